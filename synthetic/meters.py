"""What a household's devices read, hour by hour, as real meters do.

A real home's meter is never flat. A fridge cycles, always-on devices drift, heating and cooling
come and go with the season, every appliance leaves its own mark, and the meter adds its own noise;
homes differ in all of these. Four processes change what it reads:

- ordinary life: activity by hour of day, more of it on some days than others;
- absence: everyone away for days (holidays, trips, hospital stays) — an abrupt drop to the
  home's standby band, whole days at a time, while the phone travels with its owner;
- withdrawal: the gradual loss of activity and of the day's rhythm over weeks (isolation);
- device faults: hours that never arrive, and exact zeros while a plug is pulled.

Only the first three are behaviour; features must tell absence from withdrawal and both from
faults. `flat_readings` keeps the earlier synthetic meters (flat to the decimal whenever nobody is
active) for the `flat_meters` variant, so the two can be compared on the same city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ABSENCES_PER_YEAR = 1.5
"""Trips and hospital stays per household and year, besides the national holidays."""
HOLIDAY_AWAY_SHARE = 0.35
"""Share of households away over each Seollal and Chuseok."""


@dataclass(frozen=True)
class Homes:
    """The fixed traits of a batch of homes' devices (one row per home)."""

    is_ami: np.ndarray
    standby_w: np.ndarray
    fridge_w: np.ndarray
    appliance_w: np.ndarray
    cooling_w: np.ndarray
    heating_w: np.ndarray
    window_lux: np.ndarray
    night_light_lux: np.ndarray
    phone_background: np.ndarray

    @classmethod
    def draw(cls, service: np.ndarray, rng: np.random.Generator) -> Homes:
        n = len(service)
        is_ami = service == "ami"
        # A whole-home meter sees the fridge and every always-on device; a smart plug one appliance.
        standby = np.where(
            is_ami,
            np.clip(rng.lognormal(np.log(90), 0.5, n), 20, 400),
            np.clip(rng.lognormal(np.log(6), 0.6, n), 0.8, 60),
        )
        return cls(
            is_ami=is_ami,
            standby_w=standby,
            fridge_w=np.where(is_ami, rng.uniform(25, 90, n), 0.0),
            appliance_w=np.where(
                is_ami, rng.lognormal(np.log(250), 0.4, n), rng.lognormal(np.log(45), 0.4, n)
            ),
            cooling_w=np.where(is_ami, rng.uniform(0, 1, n) ** 2 * 450, 0.0),
            heating_w=np.where(is_ami, rng.uniform(0, 1, n) ** 2 * 250, 0.0),
            window_lux=rng.uniform(20, 180, n),
            night_light_lux=np.where(rng.random(n) < 0.3, rng.uniform(2, 15, n), 0.0),
            phone_background=rng.uniform(0.05, 0.6, n),
        )


def _whole_days(mask_days: np.ndarray, hours: pd.DatetimeIndex, first_day: pd.Timestamp) -> np.ndarray:
    day_of_hour = ((hours - first_day) // pd.Timedelta(days=1)).to_numpy()
    return mask_days[:, day_of_hour]


def absences(
    n: int, hours: pd.DatetimeIndex, holidays: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame]:
    """Whole-day absences per household-hour, and each episode (row, start, end) for the truth."""
    first_day = hours[0].normalize()
    n_days = int((hours[-1].normalize() - first_day) / pd.Timedelta(days=1)) + 1
    away = np.zeros((n, n_days), dtype=bool)
    episodes = []
    count = rng.poisson(ABSENCES_PER_YEAR * n_days / 365, n)
    for row in np.flatnonzero(count):
        for _ in range(count[row]):
            long = rng.random() < 0.3
            length = int(rng.integers(7, 29) if long else rng.integers(2, 8))
            start = int(rng.integers(0, n_days))
            away[row, start : start + length] = True
            episodes.append((row, start, min(start + length, n_days), "hospital" if long else "trip"))
    holiday_days = np.flatnonzero(np.isin(pd.date_range(first_day, periods=n_days, freq="D"), holidays))
    for block in np.split(holiday_days, np.flatnonzero(np.diff(holiday_days) > 1) + 1):
        if len(block) == 0:
            continue
        goers = np.flatnonzero(rng.random(n) < HOLIDAY_AWAY_SHARE)
        away[goers[:, None], block[None, :]] = True
        episodes.extend((row, int(block[0]), int(block[-1]) + 1, "holiday") for row in goers)
    frame = pd.DataFrame(episodes, columns=["row", "start_day", "end_day", "kind"])
    frame["start"] = first_day + pd.to_timedelta(frame["start_day"], unit="D")
    frame["end"] = first_day + pd.to_timedelta(frame["end_day"], unit="D")
    return _whole_days(away, hours, first_day), frame[["row", "start", "end", "kind"]]


def _daily_drift(n: int, hours: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """Always-on load drifting from day to day (a slowly mean-reverting factor around 1)."""
    first_day = hours[0].normalize()
    n_days = int((hours[-1].normalize() - first_day) / pd.Timedelta(days=1)) + 1
    shocks = rng.normal(0, 0.03, (n, n_days))
    drift = np.zeros((n, n_days))
    for day in range(1, n_days):
        drift[:, day] = 0.92 * drift[:, day - 1] + shocks[:, day]
    return 1 + _whole_days(drift, hours, first_day)


def _season(hours: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Cooling (peaks in early August) and heating (peaks in mid January), 0-1."""
    day = hours.day_of_year.to_numpy()
    cooling = np.exp(-(((day - 215) / 22.0) ** 2))
    distance = np.minimum(np.abs(day - 15), 365 - np.abs(day - 15))
    heating = np.exp(-((distance / 35.0) ** 2))
    return cooling, heating


def realistic_power(
    homes: Homes,
    hours: pd.DatetimeIndex,
    active: np.ndarray,
    occupied: np.ndarray,
    profile: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    n, h = active.shape
    drift = _daily_drift(n, hours, rng)
    duty = np.clip(rng.normal(0.4, 0.15, (n, h)), 0.05, 0.95)
    standby = homes.standby_w[:, None] * drift + 2 * homes.fridge_w[:, None] * duty
    standby = standby + rng.normal(0, 1, (n, h)) * (0.05 * homes.standby_w[:, None] + 0.3)
    appliances = active * rng.lognormal(0, 0.8, (n, h)) * homes.appliance_w[:, None]
    cooling, heating = _season(hours)
    climate = (homes.cooling_w[:, None] * cooling + homes.heating_w[:, None] * heating) * (
        occupied * (0.4 + 0.6 * profile)[None, :]
    )
    reading = (standby + appliances + climate) * (1 + rng.normal(0, 0.01, (n, h)))
    return np.round(np.maximum(reading, 0.5), 1)


def _sun(hours: pd.DatetimeIndex) -> np.ndarray:
    """Daylight by hour of day, 0-1 (one row, to broadcast over homes)."""
    return np.clip(np.sin((hours.hour.to_numpy() - 6) / 13 * np.pi), 0, None)[None, :]


def flat_readings(
    service: np.ndarray,
    hours: pd.DatetimeIndex,
    active: np.ndarray,
    away: np.ndarray,
    withdrawal: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The earlier synthetic meters (power, light, phone): a constant base with half a watt of
    noise and activity on top, so power is flat to the decimal whenever nobody is active."""
    n, h = active.shape
    is_ami = (service == "ami")[:, None]
    base = rng.uniform(25, 80, (n, 1)) + 90 * is_ami
    power = base + rng.normal(0, 0.5, (n, h)) + active * rng.lognormal(4.6, 0.6, (n, h)) * (1 + is_ami)
    power = np.round(np.maximum(power, 0.5), 1)
    daylight = _sun(hours) * rng.uniform(20, 180, (n, 1))
    light = np.where(
        away, 0.0, np.round(daylight * (1 - 0.4 * withdrawal) + active * rng.uniform(120, 300, (n, h)), 1)
    )
    phone = np.where(away, 0, rng.poisson(active * 3.5 + 0.05)) * (rng.random((n, h)) > 0.6 * withdrawal)
    return power, light, phone


def realistic_light(
    homes: Homes,
    hours: pd.DatetimeIndex,
    active: np.ndarray,
    withdrawal: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Daylight through the window (cloudier some days), a night light in some homes, lamps when
    someone is active, and the sensor's own noise; curtains stay drawn as a home withdraws."""
    n, h = active.shape
    first_day = hours[0].normalize()
    n_days = int((hours[-1].normalize() - first_day) / pd.Timedelta(days=1)) + 1
    weather = _whole_days(rng.lognormal(0, 0.45, (n, n_days)), hours, first_day)
    daylight = _sun(hours) * homes.window_lux[:, None] * weather * (1 - 0.4 * withdrawal)
    lamps = active * rng.uniform(120, 300, (n, h))
    noise = rng.normal(0, 2, (n, h))
    return np.round(np.maximum(daylight + lamps + homes.night_light_lux[:, None] + noise, 0), 1)


def realistic_phone(
    homes: Homes, phone_active: np.ndarray, withdrawal: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Use when its owner is active (wherever they are), plus background events of its own."""
    used = rng.poisson(phone_active * 3.5) * (rng.random(phone_active.shape) > 0.6 * withdrawal)
    return (used + rng.poisson(homes.phone_background[:, None], phone_active.shape)).astype(float)
