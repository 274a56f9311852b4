"""Smart welfare-check services: who is enrolled, what their devices report, what the AI calls hear.

Isolation shows in behaviour, gradually: fewer active hours, a flatter day, less phone use, calls
left unanswered. Device trouble shows the same way in every household whatever its state —
offline hours, exact zeros while a plug is pulled, duplicated deliveries, families away over the
Seollal and Chuseok holidays — so a flat line alone is not a crisis. Today's alert rules (a long
stretch without change, several unanswered calls) are applied to these feeds to drive
`sensor_alert` visits, with all the false alarms that brings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.latent import LatentLives
from synthetic.meters import (
    Homes,
    absences,
    flat_readings,
    realistic_light,
    realistic_phone,
    realistic_power,
)
from synthetic.period import Period

HOLIDAYS = pd.to_datetime(
    [
        "2024-09-16",
        "2024-09-17",
        "2024-09-18",
        "2025-01-28",
        "2025-01-29",
        "2025-01-30",
        "2025-10-05",
        "2025-10-06",
        "2025-10-07",
        "2026-02-16",
        "2026-02-17",
        "2026-02-18",
        "2026-09-24",
        "2026-09-25",
        "2026-09-26",
    ]
)
"""Seollal and Chuseok, when many households are away with family."""

HOUSEHOLDS_PER_BATCH = 120
EPISODE_COLUMNS = ["household_id", "service", "kind", "start", "end"]
FLAT_ALERT_HOURS = 36
UNANSWERED_ALERT_CALLS = 3
WITHDRAWAL = np.array([0.0, 0.4, 0.75])
"""How far activity is withdrawn in each IsolationState (reached gradually)."""

_HOURLY_ACTIVITY = np.array(
    [
        0.04,
        0.03,
        0.02,
        0.02,
        0.03,
        0.08,
        0.25,
        0.55,
        0.6,
        0.45,
        0.42,
        0.45,
        0.55,
        0.45,
        0.4,
        0.4,
        0.42,
        0.5,
        0.7,
        0.75,
        0.72,
        0.6,
        0.4,
        0.15,
    ]
)


@dataclass
class SensorOutput:
    enrollments: pd.DataFrame
    ai_calls: pd.DataFrame
    alerts: pd.DataFrame
    readings: list[pd.DataFrame]
    episodes: pd.DataFrame
    """Behaviour the devices saw (absences, withdrawal onsets), for `_truth/sensor_episodes.parquet`."""


def enrol(households: pd.DataFrame, period: Period, rng: np.random.Generator) -> pd.DataFrame:
    """About 1 % of households, most of them elderly people living alone."""
    age = (period.start.year - households["head_birth_year"]).to_numpy()
    alone = households["household_size"].to_numpy() == 1
    recipient = households["livelihood_status"].to_numpy() == "recipient"
    p = 0.004 + 0.055 * (alone & (age >= 65)) + 0.02 * (alone & (age >= 50) & (age < 65)) + 0.01 * recipient
    chosen = np.flatnonzero(rng.random(len(households)) < p)
    n = len(chosen)
    first = period.start - pd.Timedelta(days=365)
    # Up to the delivery's last day: a programme enrols every month, and a delivery whose
    # enrolments stop two months before its end reads to `anbu health` as a source gone quiet.
    span = (period.delivered_on - first).days
    enrolled_on = first + pd.to_timedelta(rng.integers(0, span, n), unit="D")
    ends = rng.random(n) < 0.12
    end_days = rng.integers(30, 400, n)
    ended_on = (enrolled_on + pd.to_timedelta(end_days, unit="D")).where(ends)
    ended_on = ended_on.where(ended_on < period.delivered_on)
    device = np.array(["smart_plug", "ami", "phone_activity"])[
        (rng.random((n, 1)) > np.array([0.6, 0.85])).sum(axis=1)
    ]
    ids = households["household_id"].to_numpy()[chosen]
    rows = pd.DataFrame(
        {
            "household_id": ids,
            "service": device,
            "enrolled_on": enrolled_on,
            "ended_on": ended_on,
            "_row": chosen,
        }
    )
    calls = rng.random(n) < 0.45
    ai = rows[calls].assign(service="ai_call")
    return pd.concat([rows, ai], ignore_index=True).sort_values(
        ["household_id", "service"], ignore_index=True
    )


WITHDRAWAL_RAMP_DAYS = 28
"""Days over which a change of state reaches its full withdrawal, from the first of its month."""


def _hourly_state(state: np.ndarray, months: pd.DatetimeIndex, hours: pd.DatetimeIndex) -> np.ndarray:
    """Withdrawal per hour: each month's level is reached gradually over the first
    WITHDRAWAL_RAMP_DAYS of the month, from the previous month's."""
    level = WITHDRAWAL[state]
    starts = months.to_numpy().astype("datetime64[h]").astype(np.int64)
    ramp = WITHDRAWAL_RAMP_DAYS * 24
    grid = hours.to_numpy().astype("datetime64[h]").astype(np.int64)
    points = np.ravel(np.column_stack([starts, starts + ramp]))
    previous = np.column_stack([level[:, :1], level[:, :-1]])
    values = np.stack([previous, level], axis=2).reshape(len(level), -1)
    return np.vstack([np.interp(grid, points, row) for row in values])


def withdrawal_onsets(state: np.ndarray, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Each change from NONE to AT_RISK or ISOLATED (row, start of its month): when withdrawal
    begins to show in the devices, for the sensor benchmark."""
    rows, cols = np.nonzero((state[:, 1:] > 0) & (state[:, :-1] == 0))
    start = months[cols + 1]
    return pd.DataFrame(
        {
            "row": rows,
            "start": start,
            "end": start + pd.Timedelta(days=WITHDRAWAL_RAMP_DAYS),
            "kind": "withdrawal",
        }
    )


def _episodes(
    rng: np.random.Generator, shape: tuple[int, int], per_month: float, low: int, high: int
) -> np.ndarray:
    """Boolean mask of random episodes (device offline, plug pulled) in household-hours."""
    n, hours = shape
    mask = np.zeros(shape, dtype=bool)
    count = rng.poisson(per_month * hours / 730, n)
    for i in np.flatnonzero(count):
        starts = rng.integers(0, hours, count[i])
        lengths = rng.integers(low, high, count[i])
        for s, length in zip(starts, lengths, strict=True):
            mask[i, s : s + length] = True
    return mask


def _runs_reaching(flags: np.ndarray, length: int) -> np.ndarray:
    """(row, hour) where a run of True reaches `length` consecutive hours."""
    run = np.zeros(flags.shape[0], dtype=np.int32)
    hits = []
    for h in range(flags.shape[1]):
        run = np.where(flags[:, h], run + 1, 0)
        reached = np.flatnonzero(run == length)
        hits.extend((r, h) for r in reached)
    return np.array(hits, dtype=np.int64).reshape(-1, 2)


def _device_batch(
    batch: pd.DataFrame, state: np.ndarray, period: Period, rng: np.random.Generator, meters: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hourly readings, device alerts and behaviour episodes for a batch of enrolled households
    (one device each)."""
    hours = pd.date_range(period.readings_start, period.delivered_on - pd.Timedelta(hours=1), freq="h")
    n, h = len(batch), len(hours)
    withdrawal = _hourly_state(state, period.months, hours)
    hour_of_day = hours.hour.to_numpy()
    weekend = hours.day_of_week.to_numpy() >= 5
    profile = _HOURLY_ACTIVITY[np.where(weekend, (hour_of_day - 1) % 24, hour_of_day)]
    # Withdrawal lowers activity and flattens the day towards a low, even level.
    p_active = profile[None, :] * (1 - withdrawal) + withdrawal * 0.06
    service = batch["service"].to_numpy()
    away, episodes = absences(n, hours, HOLIDAYS, rng)
    lively = rng.random((n, h)) < p_active
    active = lively & ~away
    enrolled = (hours.to_numpy()[None, :] >= batch["enrolled_on"].to_numpy()[:, None]) & (
        batch["ended_on"].isna().to_numpy()[:, None]
        | (hours.to_numpy()[None, :] < batch["ended_on"].to_numpy()[:, None])
    )
    offline = _episodes(rng, (n, h), 1.2, 2, 60)
    unplugged = _episodes(rng, (n, h), 0.35, 6, 90) & (service == "smart_plug")[:, None]
    if meters == "flat":
        power, light, phone = flat_readings(service, hours, active, away, withdrawal, rng)
    else:
        homes = Homes.draw(service, rng)
        power = realistic_power(homes, hours, active, ~away, profile, rng)
        light = realistic_light(homes, hours, active, withdrawal, rng)
        phone = realistic_phone(homes, lively, withdrawal, rng)
    power = np.where(unplugged, 0.0, power)
    light = np.where(unplugged, 0.0, light)
    reported = enrolled & ~offline
    ids = batch["household_id"].to_numpy()
    frames = []
    for channel, values, has in (
        ("power_w", power, np.isin(service, ["smart_plug", "ami"])),
        ("light_lux", light, service == "smart_plug"),
        ("phone_events", phone.astype(float), service == "phone_activity"),
    ):
        rows, cols = np.nonzero(reported & has[:, None])
        frames.append(
            pd.DataFrame(
                {
                    "household_id": ids[rows],
                    "ts": hours[cols],
                    "channel": channel,
                    "value": values[rows, cols],
                }
            )
        )
    readings = pd.concat(frames, ignore_index=True)
    duplicated = readings.sample(frac=0.004, random_state=int(rng.integers(2**31)))
    readings = pd.concat([readings, duplicated], ignore_index=True)
    behaviour = pd.concat([episodes, withdrawal_onsets(state, period.months)], ignore_index=True)
    behaviour = behaviour[behaviour["end"] > hours[0]]
    behaviour = behaviour.assign(
        household_id=ids[behaviour["row"].to_numpy()], service=service[behaviour["row"].to_numpy()]
    )

    flat = np.zeros((n, h), dtype=bool)
    flat[:, 1:] = (
        reported[:, 1:] & reported[:, :-1] & (np.abs(np.diff(power, axis=1)) < 2.0) & (light[:, 1:] < 60)
    )
    flat &= (service == "smart_plug")[:, None]
    quiet_phone = reported & ~(phone > 0) & (service == "phone_activity")[:, None]
    alerts = [
        pd.DataFrame(
            {
                "household_id": ids[hits[:, 0]],
                "alert_on": hours[hits[:, 1]].normalize(),
                "service": service[hits[:, 0]],
            }
        )
        for hits in (
            _runs_reaching(flat, FLAT_ALERT_HOURS),
            _runs_reaching(quiet_phone, 30),
            _power_drop_days(power, reported, service == "ami"),
        )
    ]
    return readings, pd.concat(alerts, ignore_index=True), behaviour[EPISODE_COLUMNS]


def _power_drop_days(power: np.ndarray, reported: np.ndarray, is_ami: np.ndarray) -> np.ndarray:
    """(row, hour) of KEPCO-like alerts on whole-home meters: the first day of a run of days whose
    mean power is below half of the household's mean over its previous 60 days."""
    n, h = power.shape
    days = h // 24
    live = (reported & (power > 0))[:, : days * 24].reshape(n, days, 24)
    watts = np.where(live, power[:, : days * 24].reshape(n, days, 24), 0.0)
    counts = live.sum(axis=2)
    daily = np.where(counts >= 12, watts.sum(axis=2) / np.maximum(counts, 1), np.nan)
    known = ~np.isnan(daily)
    total = np.cumsum(np.where(known, daily, 0.0), axis=1)
    seen = np.cumsum(known, axis=1)
    # The previous 60 days of day d: cumulative sums at d-1 minus those at d-61.
    window_total = np.pad(total, ((0, 0), (1, 0)))[:, :days] - np.pad(total, ((0, 0), (61, 0)))[:, :days]
    window_seen = np.pad(seen, ((0, 0), (1, 0)))[:, :days] - np.pad(seen, ((0, 0), (61, 0)))[:, :days]
    usual = np.where(window_seen >= 30, window_total / np.maximum(window_seen, 1), np.nan)
    low = known & (daily < 0.5 * usual) & is_ami[:, None]
    first = low & ~np.pad(low, ((0, 0), (1, 0)))[:, :days]
    rows, day = np.nonzero(first)
    return np.column_stack([rows, day * 24 + 23]).astype(np.int64).reshape(-1, 2)


def _ai_calls(
    enrolled: pd.DataFrame, state: np.ndarray, period: Period, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if enrolled.empty:
        empty_calls = pd.DataFrame(
            columns=["household_id", "called_at", "answered", "duration_s", "risk_flag"]
        )
        return empty_calls, pd.DataFrame(columns=["household_id", "alert_on", "service"])
    weeks = pd.date_range(period.start, period.delivered_on - pd.Timedelta(days=1), freq="W-MON")
    n, w = len(enrolled), len(weeks)
    minutes = rng.integers(0, 2, n) * 24 * 60 + 600 + rng.integers(0, 240, n)
    called_at = weeks.to_numpy()[None, :] + minutes.astype("timedelta64[m]")[:, None]
    month = np.clip(
        np.searchsorted(period.months.to_numpy(), weeks.to_numpy(), side="right") - 1, 0, period.n_months - 1
    )
    s = state[:, month]
    p_answer = (
        np.array([0.82, 0.62, 0.42])[s] * np.where(np.isin(weeks.normalize(), HOLIDAYS), 0.4, 1.0)[None, :]
    )
    answered = rng.random((n, w)) < p_answer
    risky = answered & (rng.random((n, w)) < np.array([0.015, 0.05, 0.1])[s])
    live = (
        (called_at >= enrolled["enrolled_on"].to_numpy()[:, None])
        & (
            enrolled["ended_on"].isna().to_numpy()[:, None]
            | (called_at < enrolled["ended_on"].to_numpy()[:, None])
        )
        & (called_at < np.datetime64(period.delivered_on))
    )
    rows, cols = np.nonzero(live)
    calls = pd.DataFrame(
        {
            "household_id": enrolled["household_id"].to_numpy()[rows],
            "called_at": pd.to_datetime(called_at[rows, cols]).floor("s"),
            "answered": pd.array(answered[rows, cols], dtype="boolean"),
            "duration_s": np.where(
                answered[rows, cols], np.round(rng.lognormal(4.0, 0.5, len(rows)), 1), np.nan
            ),
            "risk_flag": pd.array(np.where(answered[rows, cols], risky[rows, cols], None), dtype="boolean"),
        }
    )
    unanswered = live & ~answered
    hits = _runs_reaching(unanswered, UNANSWERED_ALERT_CALLS)
    alerts = pd.DataFrame(
        {
            "household_id": enrolled["household_id"].to_numpy()[hits[:, 0]],
            "alert_on": pd.to_datetime(called_at[hits[:, 0], hits[:, 1]]).normalize(),
            "service": "ai_call",
        }
    )
    return calls, alerts


def simulate_services(
    households: pd.DataFrame,
    lives: LatentLives,
    period: Period,
    rng: np.random.Generator,
    meters: str = "realistic",
) -> SensorOutput:
    enrollments = enrol(households, period, rng)
    devices = enrollments[enrollments["service"] != "ai_call"]
    readings, alerts, episodes = [], [], []
    for start in range(0, len(devices), HOUSEHOLDS_PER_BATCH):
        batch = devices.iloc[start : start + HOUSEHOLDS_PER_BATCH]
        batch_readings, batch_alerts, batch_episodes = _device_batch(
            batch, lives.state[batch["_row"].to_numpy()], period, rng, meters
        )
        readings.append(batch_readings)
        alerts.append(batch_alerts)
        episodes.append(batch_episodes)
    ai = enrollments[enrollments["service"] == "ai_call"]
    calls, call_alerts = _ai_calls(ai, lives.state[ai["_row"].to_numpy()], period, rng)
    alerts.append(call_alerts)
    return SensorOutput(
        enrollments=enrollments.drop(columns="_row"),
        ai_calls=calls,
        alerts=pd.concat(alerts, ignore_index=True),
        readings=readings,
        episodes=pd.concat(episodes, ignore_index=True)
        if episodes
        else pd.DataFrame(columns=EPISODE_COLUMNS),
    )
