"""The test round's figures: what each one is, and the one place its MLflow key is spelt.

The evaluation (training/evaluation.py) writes them under these keys, MLflow keeps them, and every
reader (the promotion gates, the model card, `anbu train`'s summary) asks for a figure by what it
is: a scorer's estimate from the survey with its 90 % interval and the survey households behind it,
its exact value for a visit to every household (census) or against the true state (a synthetic
city), or a paired comparison of the model's list with a rival's. A figure the run does not have is
None, never a NaN that a renamed key would leave in a card unnoticed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Basis = Literal["survey", "census", "truth"]


def key(scorer: str, basis: Basis, measure: str) -> str:
    """`model_survey_ece`, `rule_census_precision_at_capacity`, `model_truth_discovery_lift_over_rule`."""
    return f"{scorer}_{basis}_{measure}"


def part(name: str, which: Literal["low", "high", "households", "share", "rival_households"]) -> str:
    """An estimate's interval ends, the survey households behind it, a comparison's capacity."""
    return f"{name}_{which}"


TEST_SURVEY_HOUSEHOLDS = "test_survey_households"
TEST_SURVEY_POSITIVES = "test_survey_positives"
DISCOVERY_KNOWN_HOUSEHOLDS = "discovery_known_households"
DISCOVERY_KNOWN_SHARE = "discovery_known_share"
DISCOVERY_KNOWN_WINDOW_DAYS = "discovery_known_window_days"
"""The test round's own counts: its survey, and who the discovery list leaves out as known."""


@dataclass(frozen=True)
class Estimated:
    """A survey estimate as a reader quotes it."""

    value: float
    low: float | None
    high: float | None
    households: int | None
    share: float | None = None
    """For a comparison of two lists: the capacity (share of the round) it was made at."""

    def text(self, digits: int = 3, *, households: bool = True) -> str:
        """`0.123 [0.100, 0.150, 751 survey households]` (the parts the run has)."""
        shown = f"{self.value:.{digits}f}"
        if self.low is not None and self.high is not None:
            behind = (
                f", {self.households:,} survey households"
                if households and self.households is not None
                else ""
            )
            shown += f" [{self.low:.{digits}f}, {self.high:.{digits}f}{behind}]"
        return shown


@dataclass(frozen=True)
class Figures:
    """A run's figures read by what they are, from its metrics (in memory, or from MLflow)."""

    metrics: Mapping[str, float]

    def _number(self, name: str) -> float | None:
        value = self.metrics.get(name)
        return None if value is None or not math.isfinite(value) else float(value)

    def survey(self, measure: str, scorer: str = "model") -> Estimated | None:
        """A scorer's estimate from the test round's survey (None if the run has none)."""
        name = key(scorer, "survey", measure)
        value = self._number(name)
        if value is None:
            return None
        behind = self._number(part(name, "households"))
        return Estimated(
            value,
            self._number(part(name, "low")),
            self._number(part(name, "high")),
            None if behind is None else int(behind),
            self._number(part(name, "share")),
        )

    def exact(self, basis: Basis, measure: str, scorer: str = "model") -> float | None:
        """A census or truth figure (a synthetic city), or a survey figure's own value."""
        return self._number(key(scorer, basis, measure))

    def count(self, name: str) -> int | None:
        value = self._number(name)
        return None if value is None else int(value)

    def exact_named(self, name: str) -> float | None:
        """One of the round's own figures above (a share, not a count)."""
        return self._number(name)

    @property
    def estimated_from_survey(self) -> bool:
        """Whether the test round's survey was large enough to estimate from."""
        return self.survey("precision_at_capacity") is not None
