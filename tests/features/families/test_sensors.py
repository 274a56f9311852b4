"""Sensor features on meters that look like real ones: never flat, each home its own level."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.families.sensors import POWER_FEATURES, sensor_query

AS_OF = pd.Timestamp("2025-06-30")
HOURS = pd.date_range("2025-04-01", "2025-06-30 23:00", freq="h")
RELATIVE = (*POWER_FEATURES, "sensor_offline_hours_7d")
RECENT = AS_OF - pd.Timedelta(days=6) <= HOURS


def meter(seed: int = 0, activity: np.ndarray | None = None) -> np.ndarray:
    """A whole-home meter: an always-on load, a fridge cycling hour to hour, appliances when
    someone is active (more by day), and the meter's own noise."""
    rng = np.random.default_rng(seed)
    hour = HOURS.hour.to_numpy()
    p_active = np.where((hour >= 7) & (hour <= 22), 0.5, 0.03)
    if activity is not None:
        p_active = p_active * activity
    active = rng.random(len(HOURS)) < p_active
    standby = 85 + 2 * 60 * np.clip(rng.normal(0.4, 0.15, len(HOURS)), 0.05, 0.95)
    reading = standby + active * rng.lognormal(np.log(250), 0.8, len(HOURS)) + rng.normal(0, 3, len(HOURS))
    return np.round(np.maximum(reading, 0.5), 1)


def features(power: np.ndarray, keep: np.ndarray | None = None) -> pd.Series:
    keep = np.ones(len(HOURS), dtype=bool) if keep is None else keep
    return features_at(HOURS[keep], power[keep], AS_OF)


def features_at(hours: pd.DatetimeIndex, power: np.ndarray, as_of: pd.Timestamp) -> pd.Series:
    """The sensor family of one whole-home meter's readings, as of a round date."""
    con = duckdb.connect()
    con.register(
        "sensor_enrollments",
        pd.DataFrame(
            {
                "household_id": ["H1"],
                "service": ["ami"],
                "enrolled_on": [pd.Timestamp("2020-01-01")],
                "ended_on": [pd.NaT],
            }
        ),
    )
    con.register(
        "sensor_readings",
        pd.DataFrame({"household_id": "H1", "ts": hours, "channel": "power_w", "value": power}),
    )
    con.register(
        "ai_calls",
        pd.DataFrame(
            {
                "household_id": pd.Series([], dtype="str"),
                "called_at": pd.Series([], dtype="datetime64[us]"),
                "answered": pd.Series([], dtype="boolean"),
                "risk_flag": pd.Series([], dtype="boolean"),
            }
        ),
    )
    query, params = sensor_query(as_of)
    return con.execute(query, params).df().set_index("household_id").loc["H1"]


def test_the_fixture_meter_is_never_flat_while_nobody_is_active() -> None:
    power = meter()
    small_hours = np.isin(HOURS.hour, [1, 2, 3, 4])
    changes = np.abs(np.diff(power))[small_hours[1:]]
    assert np.mean(changes < 2.0) < 0.1  # a 2 W "no change" rule would almost never see quiet


def test_an_ordinary_week_sits_at_the_household_s_own_baseline() -> None:
    row = features(meter())
    assert abs(row["sensor_standby_change"]) < 0.1
    assert abs(row["sensor_power_drop_7d"]) < 0.25
    assert abs(row["sensor_power_deviation_7d"]) < 0.5
    assert row["sensor_standby_days_7d"] == 0
    assert row["sensor_offline_hours_7d"] == 0


def test_an_absence_shows_as_whole_days_at_standby_not_as_withdrawal() -> None:
    power = meter()
    quiet = meter(seed=1, activity=np.zeros(len(HOURS)))
    away = AS_OF - pd.Timedelta(days=3) <= HOURS  # the last four days
    row = features(np.where(away, quiet, power))
    assert row["sensor_standby_days_7d"] >= 3
    assert row["sensor_power_drop_7d"] > 0.4
    assert row["sensor_longest_standby_hours_7d"] >= 48  # two days in a row at standby
    assert row["sensor_active_day_drop_7d"] < 0.3  # the days at home do not look withdrawn


def test_withdrawal_lowers_active_days_without_whole_days_at_standby() -> None:
    withdrawn = meter(activity=np.where(RECENT, 0.35, 1.0))
    row = features(withdrawn)
    assert row["sensor_standby_days_7d"] == 0
    assert row["sensor_active_day_drop_7d"] > 0.4
    assert row["sensor_power_deviation_7d"] > 0.5
    assert row["sensor_standby_change"] > 0.1


def test_unplugged_and_missing_hours_are_offline_not_standby() -> None:
    power = meter()
    unplugged = RECENT & (HOURS.day == 28)
    missing = RECENT & (HOURS.day == 29)
    row = features(np.where(unplugged, 0.0, power), keep=~missing)
    assert row["sensor_offline_hours_7d"] == 48
    assert row["sensor_standby_days_7d"] == 0


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.2, 5.0),
    extra_standby=st.floats(0.0, 300.0),
    withdrawn=st.booleans(),
)
def test_relative_features_ignore_the_home_s_scale_and_its_standby_load(
    scale: float, extra_standby: float, withdrawn: bool
) -> None:
    """A bigger home, or one more always-on device, is not a change in behaviour (equal up to
    the micro-unit rounding of the means)."""
    power = meter(seed=2, activity=np.where(RECENT, 0.5, 1.0) if withdrawn else None)
    base = features(power)
    scaled = features(power * scale)
    shifted = features(power + extra_standby)
    for name in RELATIVE:
        assert scaled[name] == pytest.approx(base[name], abs=1e-5, nan_ok=True), name
        assert shifted[name] == pytest.approx(base[name], abs=1e-5, nan_ok=True), name


def test_three_weeks_away_stand_out_of_two_years_of_weekly_rounds() -> None:
    """The issue's real household, in miniature: two years of one home's meter with seasons, a
    drifting always-on load and one absence of three weeks, read at weekly rounds."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(11)
    hours = pd.date_range("2024-01-01", "2025-12-31 23:00", freq="h")
    away = (hours >= "2025-03-03") & (hours < "2025-03-24")
    hour = hours.hour.to_numpy()
    p_active = np.where((hour >= 7) & (hour <= 22), 0.45, 0.03)
    active = (rng.random(len(hours)) < p_active) & ~away
    day = ((hours - hours[0]) // pd.Timedelta(days=1)).to_numpy()
    drift = 1 + 0.1 * np.sin(day / 40.0)
    season = np.exp(-(((hours.day_of_year.to_numpy() - 215) / 25.0) ** 2))
    fridge = 2 * 55 * np.clip(rng.normal(0.4, 0.15, len(hours)), 0.05, 0.95)
    power = 70 * drift + fridge + active * rng.lognormal(np.log(300), 0.8, len(hours))
    power = power + 250 * season * ~away * (0.4 + 0.6 * (p_active > 0.1)) + rng.normal(0, 3, len(hours))
    rounds = pd.date_range("2024-03-10", "2025-12-28", freq="7D")
    rows = []
    for as_of in rounds:
        recent = (hours > as_of - pd.Timedelta(days=6)) & (hours < as_of + pd.Timedelta(days=1))
        window = (hours >= as_of - pd.Timedelta(days=67)) & (hours < as_of + pd.Timedelta(days=1))
        row = features_at(hours[window], np.round(power[window], 1), as_of)
        rows.append({**row.to_dict(), "away_days": int(away[recent].sum() // 24)})
    weeks = pd.DataFrame(rows)
    gone = weeks["away_days"] >= 5
    ordinary = weeks["away_days"] == 0
    best = max(
        roc_auc_score(gone[gone | ordinary], weeks.loc[gone | ordinary, name])
        for name in ("sensor_standby_share_7d", "sensor_power_drop_7d", "sensor_standby_days_7d")
    )
    assert gone.sum() >= 2 and best >= 0.95
    # Ordinary weeks sit near the home's own usual level: a typical one is off by a fraction of
    # what a week away shows.
    for name in ("sensor_power_drop_7d", "sensor_standby_change"):
        typical = weeks.loc[ordinary, name].abs().median()
        assert typical < weeks.loc[gone, name].median() / 3, name
