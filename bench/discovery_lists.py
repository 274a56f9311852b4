"""Benchmark: does the discovery list a planner exports hold anybody outreach has already found?

    uv run python bench/discovery_lists.py --data data/demo --as-of 2026-07-31 --capacity 15

For every district of a scored round, `anbu rank --format csv` exactly as a planner runs it (all of
the capacity to discovery, the default), then each listed household checked against the city's
delivered visits file itself (`outreach_visits.parquet`, not the round table's summary the lists
are built from): a visit on or before the round, inside the known window, that found it isolated
or at risk. The issue's target is none. Beside it, the same districts' top households by risk
alone (the single list served before discovery lists), which shows what the split changes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.settings import KNOWN_WINDOW_DAYS  # noqa: E402
from features.contract.vocabulary import POSITIVE_OUTCOMES  # noqa: E402
from serving.scoring.rounds import shown_version  # noqa: E402


def exported_list(data: Path, as_of: date, gu: str, capacity: int, out: Path) -> pd.DataFrame:
    """The district's list as the CSV a planner opens."""
    subprocess.run(
        [sys.executable, "-m", "anbu.cli", "rank", "--data", str(data), "--as-of", as_of.isoformat()]
        + ["--gu", gu, "--capacity", str(capacity), "--format", "csv", "--out", str(out)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return pd.read_csv(out, dtype={"가구번호": str}, encoding="utf-8-sig")


def found_before(data: Path, as_of: date, window_days: int) -> set[str]:
    """Households a delivered visit found isolated or at risk in the window up to the round."""
    visits = pd.read_parquet(
        data / "outreach_visits.parquet", columns=["household_id", "visited_on", "outcome"]
    )
    day = pd.to_datetime(visits["visited_on"])
    inside = (day <= pd.Timestamp(as_of)) & (day >= pd.Timestamp(as_of - timedelta(days=window_days)))
    return set(visits.loc[inside & visits["outcome"].isin(POSITIVE_OUTCOMES), "household_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 7, 31))
    parser.add_argument("--capacity", type=int, default=15)
    parser.add_argument("--known-window-days", type=int, default=KNOWN_WINDOW_DAYS)
    arguments = parser.parse_args()
    data: Path = arguments.data.resolve()
    scored = pd.read_parquet(shown_version(data, pd.Timestamp(arguments.as_of)).path)
    known = found_before(data, arguments.as_of, arguments.known_window_days)
    print(
        f"data: {data} · round {arguments.as_of} · capacity {arguments.capacity} per district · "
        f"known window {arguments.known_window_days} days\n"
    )
    print("| district | discovery list | found in the window | by risk alone: found |")
    print("|---|---:|---:|---:|")
    listed_total = found_total = alone_total = 0
    with tempfile.TemporaryDirectory() as folder:
        for gu in sorted(scored["gu"].unique()):
            listed = exported_list(data, arguments.as_of, gu, arguments.capacity, Path(folder) / "list.csv")
            discovery = listed.loc[listed["목록"] == "발굴", "가구번호"]
            alone = scored[scored["gu"] == gu].nlargest(arguments.capacity, "risk")["household_id"]
            found = int(discovery.isin(known).sum())
            found_alone = int(alone.isin(known).sum())
            print(f"| {gu} | {len(discovery)} | {found} | {found_alone} of {len(alone)} |")
            listed_total += len(discovery)
            found_total += found
            alone_total += found_alone
    print(
        f"\nall districts: {listed_total} on discovery lists, {found_total} found isolated or at risk "
        f"in the window (target 0 {'✓' if found_total == 0 else '✗'}); by risk alone {alone_total} of "
        f"{listed_total} ({alone_total / max(listed_total, 1):.0%})"
    )


if __name__ == "__main__":
    main()
