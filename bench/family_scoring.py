"""Benchmark: a whole city's round scored and explained by each model family anbu can serve.

    uv run python bench/family_scoring.py --data data/seoul

Each family (`[model] family` of experiments/baseline.toml) is trained by `anbu train` on the same
training city, in its own store, and promoted there (an override: only the time is measured); then,
after one unmeasured pass to warm the file cache, `anbu score` scores and explains the whole round
of `--data` from nothing (features built, every household scored with four reasons,
the file written) in its own process: wall time and peak memory, against the LightGBM family's in
the same run. Target (issue 36): whichever family an audition chooses, the whole round within 10 %
of the LightGBM family's time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cities import city, store_environment, train  # noqa: E402
from bench.measured import measured_anbu  # noqa: E402
from training.config import FAMILIES  # noqa: E402

BASELINE = ROOT / "experiments" / "baseline.toml"
TARGET = 1.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "seoul")
    parser.add_argument("--as-of", default="2026-07-31")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "family_scoring")
    parser.add_argument("--train-households", type=int, default=50_000)
    arguments = parser.parse_args()

    training_city = city(arguments.work, "default", 7, arguments.train_households)
    baseline = tomllib.loads(BASELINE.read_text(encoding="utf-8"))
    data = arguments.data.resolve()
    rows, stores, warm = [], {}, True
    with tempfile.TemporaryDirectory(prefix="anbu-family-scoring-") as folder:
        for family in arguments.families:
            config = Path(folder) / f"{family}.toml"
            config.write_bytes(
                tomli_w.dumps({**baseline, "name": f"scoring-{family}", "model": {"family": family}}).encode()
            )
            store = arguments.work / f"store-{family}"
            train(training_city, config, store)
            # Timing only: whatever the gates say of a model trained on another city, it serves here.
            measured_anbu(
                "promote",
                "--override",
                "--by",
                "bench/family_scoring.py",
                "--reason",
                "scoring time of each family",
                environment=store_environment(store),
            )
            stores[family] = store
        # One unmeasured pass first, so no family alone pays for a cold file cache.
        for family in [arguments.families[0], *arguments.families]:
            out = Path(folder) / family / f"{arguments.as_of}.parquet"
            seconds, gib = measured_anbu(
                "score",
                "--data",
                str(data),
                "--as-of",
                arguments.as_of,
                "--out",
                str(out),
                environment=store_environment(stores[family]),
            )
            households = pq.read_metadata(out).num_rows
            shutil.rmtree(out.parent, ignore_errors=True)
            if warm:
                warm = False
                continue
            rows.append((family, households, seconds, gib))
            print(f"{family}: {households:,} households in {seconds:.0f} s, peak {gib:.2f} GiB", flush=True)
    reference = next((r for r in rows if r[0] == "lightgbm"), rows[0])
    print()
    print(f"Whole round {arguments.as_of} of {data.name}: `anbu score` from nothing, each family's champion")
    print()
    print("| family | households | wall time | peak memory | ÷ lightgbm | target |")
    print("|---|---:|---:|---:|---:|---|")
    for family, households, seconds, gib in rows:
        ratio = seconds / reference[2]
        print(
            f"| {family} | {households:,} | {seconds:.0f} s | {gib:.2f} GiB | {ratio:.2f}× "
            f"| ≤ {TARGET:.2f}× {'✓' if ratio <= TARGET else '✗'} |"
        )


if __name__ == "__main__":
    main()
