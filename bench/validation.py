"""Benchmark: `anbu validate` on a clean delivery and on broken copies of it, in one run.

    uv run python bench/validation.py                       # a 100,000-household city, seed 1
    uv run python bench/validation.py --households 50000

The same synthetic delivery is validated clean, with 10 % and with 50 % of its sensor readings
made implausible (phone events above the channel's maximum, power below zero), and with 5 % of
its registry rows carrying one inconsistent attribute (a head born after the row's valid_from
year). Each validation runs twice in its own process (wall time and peak memory are its own; the
faster run is kept); ratios are to the clean run measured in the same invocation. Also printed: registry households of the
clean delivery missing from the validated registry, the count a round would lose.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.cities import city  # noqa: E402
from bench.measured import measured_anbu  # noqa: E402

SOURCES = (
    "households",
    "crisis_events",
    "sensor_enrollments",
    "sensor_readings",
    "ai_calls",
    "call_center_contacts",
    "outreach_visits",
)


def _copy_delivery(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in SOURCES:
        path = source / f"{name}.parquet"
        if path.is_file():
            shutil.copy(path, target / path.name)


def _break_readings(delivery: Path, share: float, seed: int) -> int:
    path = delivery / "sensor_readings.parquet"
    table = pq.read_table(path)
    rng = np.random.default_rng(seed)
    bad = rng.random(table.num_rows) < share
    phone = pc.equal(table.column("channel"), "phone_events").to_numpy(zero_copy_only=False)
    values = table.column("value").to_numpy()
    broken = np.where(bad, np.where(phone, 1e6, -50.0), values)
    table = table.set_column(table.schema.get_field_index("value"), "value", pa.array(broken))
    pq.write_table(table, path, compression="zstd")
    return int(bad.sum())


def _break_registry(delivery: Path, share: float, seed: int) -> int:
    path = delivery / "households.parquet"
    table = pq.read_table(path)
    rng = np.random.default_rng(seed)
    bad = rng.random(table.num_rows) < share
    valid_from_year = pc.year(table.column("valid_from")).to_numpy(zero_copy_only=False)
    born = table.column("head_birth_year").to_numpy(zero_copy_only=False)
    broken = np.where(bad, valid_from_year + 3, born)
    index = table.schema.get_field_index("head_birth_year")
    table = table.set_column(index, "head_birth_year", pa.array(broken, type=table.schema.field(index).type))
    pq.write_table(table, path, compression="zstd")
    return int(bad.sum())


def _registered(delivery: Path) -> set[str]:
    return set(pq.read_table(delivery, columns=["household_id"]).column(0).to_pylist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "validation")
    arguments = parser.parse_args()
    work: Path = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    source = city(work, "default", arguments.seed, arguments.households)
    cases = (
        ("clean", None, 0.0),
        ("10 % of readings implausible", _break_readings, 0.10),
        ("50 % of readings implausible", _break_readings, 0.50),
        ("5 % of registry rows with an inconsistent head_birth_year", _break_registry, 0.05),
    )
    everyone = _registered(source / "households.parquet")
    rows = []
    for label, breaker, share in cases:
        delivery = work / "delivery"
        _copy_delivery(source, delivery)
        broken = breaker(delivery, share, arguments.seed) if breaker else 0
        # The faster of two runs: the first of a series also pays for a cold page cache.
        seconds, peak_gib = min(measured_anbu("validate", "--data", str(delivery)) for _ in range(2))
        kept = _registered(DataFolder(delivery).validated / "households.parquet")
        rows.append((label, broken, seconds, peak_gib, len(everyone - kept)))
        print(f"{label}: {seconds:.1f} s", flush=True)
    clean_seconds, clean_gib = rows[0][2], rows[0][3]
    print()
    print(f"{arguments.households:,} households; the clean delivery as the baseline, in the same run")
    print()
    print("| delivery | rows broken | wall s | ÷ clean | peak GiB | ÷ clean | registry households lost |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, broken, seconds, gib, lost in rows:
        print(
            f"| {label} | {broken:,} | {seconds:.1f} | {seconds / clean_seconds:.2f}× | {gib:.2f} | "
            f"{gib / clean_gib:.2f}× | {lost:,} |"
        )


if __name__ == "__main__":
    main()
