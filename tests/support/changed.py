"""Deliveries changed on purpose, each the way a city's systems would change it: what the round
health tests hold `anbu health` to (tests/features/health, tests/serving/health)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

DERIVED = ("_validated", "_truth", "_scores", "_health", "_records")


def copy_delivery(city: Path, out: Path) -> Path:
    """The delivered files only: what a city sends, without anything anbu made of it."""
    shutil.copytree(city, out, ignore=shutil.ignore_patterns(*DERIVED))
    return out


def month_start(as_of: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize().replace(day=1)


def remove_indicator(delivery: Path, as_of: pd.Timestamp, indicator: str = "ELEC_ARREARS") -> None:
    """A utility stops sending one arrears indicator for the round's last two months."""
    events = pd.read_parquet(delivery / "crisis_events.parquet")
    late = pd.to_datetime(events["reported_on"]) >= month_start(as_of) - pd.DateOffset(months=1)
    events[~(late & (events["indicator"] == indicator))].to_parquet(delivery / "crisis_events.parquet")


def power_times_a_thousand(delivery: Path, as_of: pd.Timestamp) -> None:
    """A meter vendor reports kilowatts as watts for the round's last month."""
    readings = pd.read_parquet(delivery / "sensor_readings.parquet")
    last = (pd.to_datetime(readings["ts"]) >= month_start(as_of)) & (readings["channel"] == "power_w")
    readings.loc[last, "value"] *= 1000
    readings.to_parquet(delivery / "sensor_readings.parquet")


def recode_district(delivery: Path, as_of: pd.Timestamp) -> str:
    """The largest district's dong codes replaced, as an effective-dated registry says it: each open
    row closes on the day of the change and a row with the new code opens that day. Returns the district."""
    registry = pd.read_parquet(delivery / "households.parquet")
    district = registry["gu"].value_counts().index[0]
    change = month_start(as_of).date()  # the registry's dates are dates
    open_rows = (registry["gu"] == district) & registry["valid_to"].isna() & (registry["valid_from"] < change)
    recoded = registry[open_rows].assign(
        valid_from=change, dong_code=lambda rows: "9" + rows["dong_code"].str[1:]
    )
    registry.loc[open_rows, "valid_to"] = change
    pd.concat([registry, recoded], ignore_index=True).to_parquet(delivery / "households.parquet")
    return district


def older_registry(delivery: Path, as_of: pd.Timestamp, share: float = 0.25, seed: int = 11) -> int:
    """A real change of the registry's age structure: in the round's last month, new senior housing
    across the city registers a quarter more households, each an older person living alone.
    Returns how many were added."""
    rng = np.random.default_rng(seed)
    registry = pd.read_parquet(delivery / "households.parquet")
    day = pd.Timestamp(as_of).date()
    current = registry[
        (registry["valid_from"] <= day) & (registry["valid_to"].isna() | (registry["valid_to"] > day))
    ]
    added = current.sample(frac=share, random_state=seed).copy()
    start = month_start(as_of)
    moved = [
        (start + pd.Timedelta(days=int(d))).date()
        for d in rng.integers(0, pd.Timestamp(as_of).day, len(added))
    ]
    added = added.assign(
        household_id=[f"N{i:08d}" for i in range(len(added))],
        valid_from=moved,
        valid_to=None,
        moved_in=moved,
        head_birth_year=rng.integers(1938, 1956, len(added)),
        household_size=1,
    )
    pd.concat([registry, added], ignore_index=True).to_parquet(delivery / "households.parquet")
    return len(added)
