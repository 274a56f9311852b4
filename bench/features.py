"""Benchmark: one feature round at city scale, and DuckDB sensor features against plain pandas.

    uv run python bench/features.py --data data/seoul --as-of 2026-10-31

Each measured step runs in its own process so its peak memory is its own (read from wait4's
rusage). The pandas baseline computes the same reading-derived sensor features with groupby, in
the same run, and its result is checked against the DuckDB one before any ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

READING_FEATURES = (
    "sensor_inactive_share_7d",
    "sensor_inactive_change",
    "sensor_longest_flat_hours_7d",
    "sensor_day_night_change",
    "sensor_phone_drop",
    "sensor_light_drop",
)


def pandas_sensor_features(validated: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """The reading-derived sensor features with pandas groupby: the baseline, not the product."""
    from features.builders.sensors import BASELINE_DAYS, DAY_HOURS, FLAT_WATTS, RECENT_DAYS

    day_end = as_of + pd.Timedelta(days=1)
    recent_start = day_end - pd.Timedelta(days=RECENT_DAYS)
    baseline_start = recent_start - pd.Timedelta(days=BASELINE_DAYS)
    readings = pd.read_parquet(
        validated / "sensor_readings.parquet",
        filters=[("ts", ">=", baseline_start), ("ts", "<", day_end)],
    )
    readings["recent"] = readings["ts"] >= recent_start
    power = readings[readings["channel"] == "power_w"].sort_values(["household_id", "ts"])
    grouped = power.groupby("household_id", sort=False)
    previous_ts = grouped["ts"].shift()
    previous_value = grouped["value"].shift()
    contiguous = (
        (previous_ts == power["ts"] - pd.Timedelta(hours=1)) & (power["value"] > 0) & (previous_value > 0)
    )
    power["flat"] = ((power["value"] - previous_value).abs() < FLAT_WATTS).astype(float).where(contiguous)
    power["daytime"] = power["ts"].dt.hour.between(*DAY_HOURS)
    live = power[power["value"] > 0]

    def mean_where(frame: pd.DataFrame, mask: pd.Series, column: str) -> pd.Series:
        return frame[mask].groupby("household_id")[column].mean()

    result = pd.DataFrame(
        {
            "inactive_recent": mean_where(power, power["recent"], "flat"),
            "inactive_baseline": mean_where(power, ~power["recent"], "flat"),
            "day_recent": mean_where(live, live["recent"] & live["daytime"], "value"),
            "night_recent": mean_where(live, live["recent"] & ~live["daytime"], "value"),
            "day_baseline": mean_where(live, ~live["recent"] & live["daytime"], "value"),
            "night_baseline": mean_where(live, ~live["recent"] & ~live["daytime"], "value"),
        }
    )
    flat_recent = power[power["recent"] & (power["flat"] == 1)].copy()
    hour_index = flat_recent["ts"].astype("int64") // 3_600_000_000
    flat_recent["run"] = hour_index - flat_recent.groupby("household_id").cumcount()
    longest = flat_recent.groupby(["household_id", "run"]).size().groupby("household_id").max()
    other = readings[readings["channel"] != "power_w"]
    means = (
        other.groupby(["household_id", "channel", "recent"])["value"].mean().unstack(["channel", "recent"])
    )

    def channel_mean(channel: str, recent: bool) -> pd.Series:
        key = (channel, recent)
        return means[key] if key in means.columns else pd.Series(dtype=float)

    out = pd.DataFrame(index=result.index.union(means.index))
    out["sensor_inactive_share_7d"] = result["inactive_recent"]
    out["sensor_inactive_change"] = result["inactive_recent"] - result["inactive_baseline"]
    out["sensor_longest_flat_hours_7d"] = longest.reindex(result.index).fillna(0.0)
    out["sensor_day_night_change"] = np.log(result["day_baseline"] / result["night_baseline"]) - np.log(
        result["day_recent"] / result["night_recent"]
    )
    for channel, name in (("phone_events", "sensor_phone_drop"), ("light_lux", "sensor_light_drop")):
        base = channel_mean(channel, False)
        out[name] = (1 - channel_mean(channel, True) / base).where(base > 0)
    return out


def _run_step(step: str, validated: Path, as_of: str) -> dict:
    """Run one step in a fresh process; return its own wall time and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--step", step, "--validated", str(validated), "--as-of", as_of],
        stdout=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read().decode() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"step {step} failed")
    result = json.loads(output.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    result["peak_rss_gib"] = usage.ru_maxrss / (1 << 20)
    return result


def _step(step: str, validated: Path, as_of: pd.Timestamp) -> None:
    from features.builders.drop import connect
    from features.builders.sensors import sensor_features

    started = time.perf_counter()
    if step == "round":
        from features.round_table import write_round

        rows = write_round(validated.parent, as_of, validated.parent / "_bench_round.parquet").rows
    elif step == "duckdb_sensors":
        with connect(validated) as con:
            table = sensor_features(con, as_of)
        table.set_index("household_id")[list(READING_FEATURES)].to_parquet(
            validated.parent / "_bench_duckdb.parquet"
        )
        rows = len(table)
    else:
        table = pandas_sensor_features(validated, as_of)
        table.to_parquet(validated.parent / "_bench_pandas.parquet")
        rows = len(table)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="data drop (validated first if needed)")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--step", choices=["round", "duckdb_sensors", "pandas_sensors"])
    parser.add_argument("--validated", type=Path)
    args = parser.parse_args()
    if args.step:
        _step(args.step, args.validated, pd.Timestamp(args.as_of))
        return

    from features.sources import ensure_validated

    report = ensure_validated(args.data)
    validated = Path(report.out_dir)
    households = report.source("households").rows_accepted
    readings = report.source("sensor_readings").rows_accepted
    print(
        f"data: {args.data} · registry rows {households:,} · sensor readings {readings:,} · cores {os.cpu_count()}"
    )
    round_result = _run_step("round", validated, args.as_of)
    duck = _run_step("duckdb_sensors", validated, args.as_of)
    pand = _run_step("pandas_sensors", validated, args.as_of)

    a = pd.read_parquet(validated.parent / "_bench_duckdb.parquet").sort_index()
    b = pd.read_parquet(validated.parent / "_bench_pandas.parquet").reindex(a.index)
    largest = float(np.nanmax(np.abs(a.to_numpy() - b.to_numpy()))) if len(a) else 0.0
    same_missing = bool((a.isna().to_numpy() == b.isna().to_numpy()).all())
    for name in (
        "_bench_round.parquet",
        "_bench_round.manifest.json",
        "_bench_duckdb.parquet",
        "_bench_pandas.parquet",
    ):
        (validated.parent / name).unlink(missing_ok=True)

    print()
    print("| step | households | wall s | peak RSS GiB |")
    print("|---|---:|---:|---:|")
    print(
        f"| one round, all families (DuckDB) | {round_result['rows']:,} | {round_result['seconds']:.1f} | {round_result['peak_rss_gib']:.2f} |"
    )
    print(
        f"| sensor features, DuckDB | {duck['rows']:,} | {duck['seconds']:.1f} | {duck['peak_rss_gib']:.2f} |"
    )
    print(
        f"| sensor features, pandas groupby baseline | {pand['rows']:,} | {pand['seconds']:.1f} | {pand['peak_rss_gib']:.2f} |"
    )
    print()
    print(
        f"pandas / DuckDB sensor time: {pand['seconds'] / duck['seconds']:.1f}x "
        f"(peak memory {pand['peak_rss_gib'] / max(duck['peak_rss_gib'], 1e-9):.1f}x)"
    )
    print(f"results agree: largest |difference| {largest:.2e}, same missing values: {same_missing}")
    if largest > 1e-9 or not same_missing:
        raise SystemExit("DuckDB and pandas sensor features disagree")


if __name__ == "__main__":
    main()
