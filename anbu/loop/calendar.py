"""The loop's calendar: its rounds, and which rounds each retraining learns from and is judged on.

A city runs a round every two months, dated the last day of an odd month as the experiments' rounds
are (experiments/baseline.toml). A model retrained on round D can only learn from rounds whose
label window (the 90 days after them, features/labels.py) has closed by D, and is calibrated and
judged on survey visits: its validation and test rounds are the latest rounds whose windows hold a
screening sweep, as the experiments' are. Which rounds those are is read from the visits the city
delivered, not assumed from one generator's sweep months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from features.labels import LABEL_HORIZON_DAYS

MIN_ROUND_HISTORY_DAYS = 120
"""A round is learnt from only once the city's history before it is this long (its features'
shorter windows are filled)."""


def round_dates(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every round date (last day of an odd month) from `first` to `last`, both included."""
    ends = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="ME")
    return [day.date() for day in ends if day.month % 2 == 1]


def is_round_date(day: dt.date) -> bool:
    return day.month % 2 == 1 and (day + dt.timedelta(days=1)).day == 1


def loop_rounds(start: dt.date, rounds: int) -> list[dt.date]:
    """The loop's `rounds` round dates from `start` on, two months apart."""
    if not is_round_date(start):
        raise ValueError(f"{start} is not a round date (the last day of an odd month, e.g. 2025-01-31)")
    return round_dates(start, (pd.Timestamp(start) + pd.DateOffset(months=2 * rounds)).date())[:rounds]


@dataclass(frozen=True)
class Retraining:
    """The rounds one retraining uses, as an experiment's [rounds] table names them."""

    train: tuple[dt.date, ...]
    validation: dt.date
    test: dt.date


def _closed(round_date: dt.date, by: dt.date) -> bool:
    return round_date + dt.timedelta(days=LABEL_HORIZON_DAYS) <= by


def retraining_rounds(
    as_of: dt.date,
    first_day: dt.date,
    surveyed: Callable[[dt.date], int],
    minimum_survey: int,
    train_rounds: int | None = None,
) -> Retraining | None:
    """The rounds a model retrained on `as_of` learns from, is calibrated on and is judged on.

    `surveyed(round)`: survey-visited households in the round's label window. The test round is
    the latest closed round with at least `minimum_survey` of them, the validation round the latest
    such round closed by the test round, and the training rounds every round closed by the
    validation round with enough history (the latest `train_rounds` of them, None: all). None when
    the city's history does not hold them yet.
    """
    history = (pd.Timestamp(first_day) + pd.Timedelta(days=MIN_ROUND_HISTORY_DAYS)).date()
    closed = [day for day in round_dates(history, as_of) if _closed(day, as_of)]
    judged = [day for day in closed if surveyed(day) >= minimum_survey]
    if not judged:
        return None
    test = judged[-1]
    earlier = [day for day in judged if _closed(day, test)]
    if not earlier:
        return None
    validation = earlier[-1]
    train = [day for day in closed if _closed(day, validation)]
    if not train:
        return None
    kept = train if train_rounds is None else train[-train_rounds:]
    return Retraining(tuple(kept), validation, test)
