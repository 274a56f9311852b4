"""The calendar a synthetic city is simulated over, shared by every part of the generator."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import pandas as pd


class IsolationState(IntEnum):
    """Latent monthly state of a household; visits can only see it through noise."""

    NONE = 0
    AT_RISK = 1
    ISOLATED = 2


@dataclass(frozen=True)
class Period:
    """`months` month starts, ending with the month before `delivered_on`.

    `delivered_on` is the day the delivery leaves the city's systems: no row in it is reported,
    measured or visited on or after that day.
    """

    last_month: pd.Timestamp
    n_months: int
    reading_days: int | None = None
    """Hourly sensor readings only for the last N days before delivery (None: the whole period)."""

    @property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(end=self.last_month, periods=self.n_months, freq="MS")

    @property
    def start(self) -> pd.Timestamp:
        return self.months[0]

    @property
    def delivered_on(self) -> pd.Timestamp:
        return self.last_month + pd.offsets.MonthBegin(1)

    @property
    def readings_start(self) -> pd.Timestamp:
        if self.reading_days is None:
            return self.start
        return max(self.start, self.delivered_on - pd.Timedelta(days=self.reading_days))
