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


Part = Literal["low", "high", "households", "share", "rival_households"]


def part(name: str, which: Part) -> str:
    """An estimate's interval ends, the survey households behind it, a comparison's capacity."""
    return f"{name}_{which}"


@dataclass(frozen=True)
class Figure:
    """What one figure is: whose list or score, on what evidence, which measure."""

    scorer: str
    basis: Basis
    measure: str

    @property
    def key(self) -> str:
        return key(self.scorer, self.basis, self.measure)


TEST_SURVEY_HOUSEHOLDS = "test_survey_households"
TEST_SURVEY_POSITIVES = "test_survey_positives"
DISCOVERY_KNOWN_HOUSEHOLDS = "discovery_known_households"
DISCOVERY_KNOWN_SHARE = "discovery_known_share"
DISCOVERY_KNOWN_WINDOW_DAYS = "discovery_known_window_days"
"""The test round's own counts: its survey, and who the discovery list leaves out as known."""


def provenance_key(source: str) -> str:
    """The test round's survey labels from one source (training/survey.py: SURVEY_LABEL_SOURCES)."""
    return f"test_survey_labels_{source}"


@dataclass(frozen=True)
class Estimated:
    """A survey estimate as a reader quotes it."""

    value: float
    low: float | None
    high: float | None
    households: int | None
    share: float | None = None
    """For a comparison of two lists: the capacity (share of the round) it was made at."""
    rival_households: int | None = None
    """For a comparison of two lists: the survey households on the rival's list."""

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


class TestRoundFigures:
    """What the evaluation of a test round found, typed: each estimate with its interval and the
    survey households behind it, each exact (census or truth) value, the round's own counts.

    Figures are recorded by what they are; `metrics()` turns them into MLflow keys, once, where a
    run logs them, and `Figures` reads them back by what they are. A NaN (a list without a survey
    household) is kept as the run's record of "not estimated" and read back as None.
    """

    def __init__(self) -> None:
        self._estimates: dict[Figure, Estimated] = {}
        self._exact: dict[Figure, float] = {}
        self._counts: dict[str, float] = {}

    def estimated(self, figure: Figure, estimate: Estimated) -> None:
        self._estimates[figure] = estimate

    def measured(self, figure: Figure, value: float) -> None:
        self._exact[figure] = float(value)

    def counted(self, name: str, value: float) -> None:
        """One of the round's own counts (TEST_SURVEY_HOUSEHOLDS, DISCOVERY_KNOWN_SHARE, …)."""
        self._counts[name] = float(value)

    def value(self, figure: Figure) -> float | None:
        """The figure's value (an estimate's point value) while the evaluation still computes."""
        if figure in self._estimates:
            return self._estimates[figure].value
        return self._exact.get(figure)

    def include(self, other: TestRoundFigures) -> None:
        """Add another evaluation's figures (a comparison with the champion, the discovery lists)."""
        self._estimates.update(other._estimates)
        self._exact.update(other._exact)
        self._counts.update(other._counts)

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics: the one place an estimate's parts become keys."""
        metrics = dict(self._counts)
        for figure, value in self._exact.items():
            metrics[figure.key] = value
        for figure, estimate in self._estimates.items():
            name = figure.key
            metrics[name] = estimate.value
            parts: dict[Part, float | int | None] = {
                "low": estimate.low,
                "high": estimate.high,
                "households": estimate.households,
                "share": estimate.share,
                "rival_households": estimate.rival_households,
            }
            metrics.update({part(name, which): float(v) for which, v in parts.items() if v is not None})
        return metrics


def quoted(estimate: Estimated | None, digits: int = 3, *, households: bool = True) -> str:
    """An estimate as the gates' reasons, the card and `anbu train` quote it: `–` where none."""
    return "–" if estimate is None else estimate.text(digits, households=households)


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
            self.count(part(name, "rival_households")),
        )

    def exact(self, basis: Basis, measure: str, scorer: str = "model") -> float | None:
        """A census or truth figure (a synthetic city), or a survey figure's own value."""
        return self._number(key(scorer, basis, measure))

    def shown(self, basis: Basis, measure: str, scorer: str = "model", digits: int | None = None) -> str:
        """An exact figure as a table or a sentence quotes it: `–` where the run has none."""
        value = self.exact(basis, measure, scorer)
        if value is None:
            return "–"
        places = digits if digits is not None else 4 if measure.endswith(("ece", "brier")) else 3
        return f"{value:.{places}f}"

    def count(self, name: str | Figure) -> int | None:
        """One of the round's own counts, or a figure that counts (groups judged)."""
        value = self._number(name if isinstance(name, str) else name.key)
        return None if value is None else int(value)

    def exact_named(self, name: str) -> float | None:
        """One of the round's own figures above (a share, not a count)."""
        return self._number(name)

    @property
    def estimated_from_survey(self) -> bool:
        """Whether the test round's survey was large enough to estimate from."""
        return self.survey("precision_at_capacity") is not None
