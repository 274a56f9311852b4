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

from features.families.sensors import POWER_FEATURES  # noqa: E402

READING_FEATURES = (*POWER_FEATURES, "sensor_phone_drop", "sensor_light_drop")
AGREEMENT = 1e-5
HOUSEHOLD_BLOCKS = 8
"""DuckDB sums means in integer micro-units (features/families/sensors.py), pandas in doubles."""


def _hours(readings: pd.DataFrame, recent_hour: int) -> pd.DataFrame:
    from features.families.sensors import _EPOCH_HOUR_OF_WEEK, DAY_HOURS, SMALL_HOURS

    hour = ((readings["ts"] - pd.Timestamp(0)) // pd.Timedelta(hours=1)).astype("int32")
    of_day = hour % 24
    return readings.assign(
        hour_index=hour,
        recent=hour >= recent_hour,
        how=((hour + _EPOCH_HOUR_OF_WEEK) % 168).astype("int16"),
        small_hours=of_day.between(*SMALL_HOURS),
        daytime=of_day.between(*DAY_HOURS),
        day=((hour - recent_hour) // 24).astype("int16"),
    )


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator != 0)


def pandas_sensor_features(validated: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """The reading-derived sensor features with pandas groupby: the baseline, not the product."""
    from features.families.sensors import BASELINE_DAYS, RECENT_DAYS

    day_end = as_of + pd.Timedelta(days=1)
    recent_start = day_end - pd.Timedelta(days=RECENT_DAYS)
    baseline_start = recent_start - pd.Timedelta(days=BASELINE_DAYS)
    readings = pd.read_parquet(
        validated / "sensor_readings.parquet",
        filters=[("ts", ">=", baseline_start), ("ts", "<", day_end)],
    )
    # Integer codes instead of text ids and channel names: a city's window is ~90 M rows.
    households = readings["household_id"].astype("category")
    ids = households.cat.categories
    readings = pd.DataFrame(
        {
            "household_id": households.cat.codes.astype("int32"),
            "ts": readings["ts"],
            "channel": readings["channel"].astype("category"),
            "value": readings["value"],
        }
    )
    hours = _hours(readings, (recent_start - pd.Timestamp(0)) // pd.Timedelta(hours=1)).drop(columns="ts")
    del readings
    # Households in blocks, as anyone would on one machine: the whole window at once needs more
    # memory than the machine has at city scale.
    blocks = [
        _household_features(hours[hours["household_id"] % HOUSEHOLD_BLOCKS == block])
        for block in range(HOUSEHOLD_BLOCKS)
    ]
    out = pd.concat(blocks)[list(READING_FEATURES)].sort_index()
    out.index = ids[out.index.to_numpy()]
    return out


def _household_features(hours: pd.DataFrame) -> pd.DataFrame:
    """The features of a block of households (integer ids), from their window of hours."""
    from features.families.sensors import (
        DEVIATION_CLIP,
        QUANTILE_SLACK,
        STANDBY_DAY_BUSY_HOURS,
        STANDBY_TOP_QUANTILE,
    )

    hid = "household_id"
    power = hours[(hours["channel"] == "power_w") & (hours["value"] > 0)]
    base = power[~power["recent"]]
    small = base[base["small_hours"]].groupby(hid)["value"]
    standby = pd.DataFrame({"standby_w": small.median(), "top_w": small.quantile(STANDBY_TOP_QUANTILE)})
    usual = base.groupby([hid, "how"])["value"].agg(usual_w="median", usual_mean_w="mean")
    p = power.join(standby, on=hid, how="inner").join(usual, on=[hid, "how"])
    p["at_standby"] = p["value"] <= p["top_w"] + QUANTILE_SLACK
    p["above"] = (p["value"] - p["standby_w"]).clip(lower=0)
    p["usual_above"] = (p["usual_mean_w"] - p["standby_w"]).clip(lower=0)
    p["residual"] = p["value"] - p["usual_w"]
    p["distance"] = p["residual"].abs()
    spread = p[~p["recent"]].dropna(subset=["distance"]).groupby(hid)["distance"].median()
    z = (p["residual"] / p[hid].map(spread.where(spread != 0))).clip(-DEVIATION_CLIP, DEVIATION_CLIP)
    deviation = z.groupby([p[hid], p["recent"]]).mean().unstack()

    recent = p[p["recent"]].copy()
    recent["busy"] = ~recent["at_standby"]
    days = recent.groupby([hid, "day"]).agg(live=("value", "size"), busy=("busy", "sum"))
    days["standby_day"] = (days["live"] >= 12) & (days["busy"] <= STANDBY_DAY_BUSY_HOURS)
    recent = recent.join(days["standby_day"], on=[hid, "day"])
    known = recent[recent["usual_above"].notna()]
    active = known[~known["standby_day"]]
    lived = recent[~recent["standby_day"]]
    runs = recent[recent["at_standby"]].sort_values([hid, "hour_index"])
    runs["run"] = runs["hour_index"] - runs.groupby(hid).cumcount()
    longest = runs.groupby([hid, "run"]).size().groupby(hid).max()
    baseline = p[~p["recent"]]

    def day_share(frame: pd.DataFrame) -> pd.Series:
        day = frame[frame["daytime"]].groupby(hid)["above"].mean()
        night = frame[~frame["daytime"]].groupby(hid)["above"].mean()
        return _ratio(day, day + night)

    out = pd.DataFrame(index=recent[hid].unique())
    share = recent.groupby(hid)["at_standby"].mean()
    out["sensor_standby_share_7d"] = share
    out["sensor_standby_change"] = share - baseline.groupby(hid)["at_standby"].mean()
    out["sensor_longest_standby_hours_7d"] = longest.reindex(out.index).fillna(0.0)
    out["sensor_standby_days_7d"] = days["standby_day"].groupby(hid).sum().astype(float)
    out["sensor_power_drop_7d"] = 1 - _ratio(
        known.groupby(hid)["above"].mean(), known.groupby(hid)["usual_above"].mean()
    )
    out["sensor_active_day_drop_7d"] = 1 - _ratio(
        active.groupby(hid)["above"].mean(), active.groupby(hid)["usual_above"].mean()
    )
    out["sensor_power_deviation_7d"] = deviation.get(False) - deviation.get(True)
    out["sensor_rhythm_change"] = day_share(baseline) - day_share(lived)

    other = hours[hours["channel"] != "power_w"]
    other_base = other[~other["recent"]]
    floor = other_base[other_base["small_hours"]].groupby([hid, "channel"])["value"].mean().rename("floor")
    usual_other = other_base.groupby([hid, "channel", "how"])["value"].mean().rename("usual")
    o = (
        other[other["recent"]]
        .join(floor, on=[hid, "channel"], how="inner")
        .join(usual_other, on=[hid, "channel", "how"])
    )
    o = o[o["usual"].notna()]
    o["above"] = (o["value"] - o["floor"]).clip(lower=0)
    o["usual_above"] = (o["usual"] - o["floor"]).clip(lower=0)
    levels = o.groupby([hid, "channel"])[["above", "usual_above"]].mean()
    level = _ratio(levels["above"], levels["usual_above"]).unstack()
    out = out.reindex(out.index.union(level.index))
    for channel, name in (("phone_events", "sensor_phone_drop"), ("light_lux", "sensor_light_drop")):
        out[name] = 1 - level[channel] if channel in level else np.nan
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
    from features.delivery_views import connect
    from features.families.sensors import sensor_features

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
    parser.add_argument("--data", type=Path, help="delivery (validated first if needed)")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--step", choices=["round", "duckdb_sensors", "pandas_sensors"])
    parser.add_argument("--validated", type=Path)
    args = parser.parse_args()
    if args.step:
        _step(args.step, args.validated, pd.Timestamp(args.as_of))
        return

    from features.contract.delivery import ensure_validated

    report = ensure_validated(args.data)
    validated = Path(report.out_dir)
    households = report.source("households").rows_accepted
    readings = report.source("sensor_readings").rows_accepted
    print(
        f"data: {args.data} · registry rows {households:,} · sensor readings {readings:,} · cores {os.cpu_count()}"
    )
    round_result = _run_step("round", validated, args.as_of)
    duck = _run_step("duckdb_sensors", validated, args.as_of)
    print(f"round {round_result} · DuckDB sensors {duck}", flush=True)
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
    if largest > AGREEMENT or not same_missing:
        raise SystemExit("DuckDB and pandas sensor features disagree")


if __name__ == "__main__":
    main()
