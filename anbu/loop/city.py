"""What the loop needs of a city: the one interface `anbu simulate` drives a city through.

A city that adopts anbu runs a loop: before each round its systems deliver the contract files,
anbu's lists choose the visits, the teams visit, and what they find is delivered with the next
round. Any city that can do two things can be driven so: deliver its files as they stood at the
end of a day, with the loop's own visits in place of its list's; and answer a set of visits on
given days with what each found. A judge that knows each household's true state is the third part,
read only to report what a policy found; the loop never reads a city's hidden state otherwise.

The synthetic city (synthetic/loop_city.py) is the first implementation; a second generator, or a
replay of a real city's history where its visits allow, implements the same three.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

VISIT_REQUEST_COLUMNS = ("household_id", "visited_on", "trigger")
"""A visit the loop asks a city to make: who, which day, and why (`system_list` for a list's
visit, `survey` for an exploration visit drawn at random)."""


class UnknownHousehold(ValueError):
    """A visit asked of (or answered by) a city for a household it never delivered."""


class Judge(Protocol):
    """The true state of a city's households, for reporting only."""

    def states(self, household_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Each household's true state on the day (0 none, 1 at risk, 2 isolated; -1 not registered)."""
        ...

    def onsets(self, household_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The first day of the spell of need (at risk or isolated) each household is in on the day:
        NaT when it is not in need, or when the spell began before the city's history does."""
        ...

    def in_need(self, month: dt.date) -> pd.Index:
        """The households truly at risk or isolated in the month starting on `month`."""
        ...

    def round_truth(self, as_of: dt.date, survey_visit_days: pd.Series | None = None) -> pd.DataFrame:
        """synthetic/truth.py: round_truth's answer for a round (true_positive, best_possible,
        census_found per household), so a training run in the loop logs its truth figures."""
        ...


class LoopCity(Protocol):
    """A city the loop can drive round by round."""

    @property
    def first_day(self) -> dt.date:
        """The first day the city's history covers."""
        ...

    @property
    def last_day(self) -> dt.date:
        """The last day the city can deliver and answer visits for."""
        ...

    @property
    def judge(self) -> Judge: ...

    def deliver(self, day: dt.date, into: Path, visits: pd.DataFrame, samples: pd.DataFrame) -> None:
        """Write the contract files into `into` as delivered at the end of `day`: the city's own
        rows known by then, with `visits` (answered outreach_visits rows of the loop) in place of
        the city's own list from the loop's first round, and `samples` (survey_samples rows the
        loop drew) as its record of which visits were drawn at random."""
        ...

    def answer(self, requests: pd.DataFrame) -> pd.DataFrame:
        """outreach_visits rows for the requested visits (VISIT_REQUEST_COLUMNS): the outcome and
        checklist score each visit found. Raises UnknownHousehold for a household the city never
        delivered; a household that has left by the visit's day is answered `moved`."""
        ...
