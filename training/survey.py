"""The survey sample: the one piece of evidence about the whole city that nobody chose.

List and alert visits go where the system already suspects trouble, so their findings say little
about the households nobody suspects. Screening sweeps visit registered households regardless of
what is known about them; the households a sweep visited in a round's 90-day window are a sample
of the round, and what their visits found is an unbiased look at the contract's target ("a visit
finds isolated or at risk") for everyone. Calibration is fitted on it and evaluation estimates
from it (training/estimates.py).

Each surveyed household stands for the registered households of its district that the sweep did
not visit (post-stratification): districts sweep with their own staff, so their sampling rates
differ, and a district surveyed twice as densely must not count twice as much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class NotEnoughSurvey(Exception):
    """A round has too few survey visits to calibrate or to estimate from."""


@dataclass(frozen=True)
class SurveySample:
    positions: np.ndarray
    """Row positions, in the round table, of the households a survey visit saw in the window."""
    found: np.ndarray
    """1.0 where the survey visit found the household isolated or at risk, else 0.0."""
    weight: np.ndarray
    """Registered households of the round each surveyed household stands for (by district)."""
    round_households: int
    districts_without_survey: tuple[str, ...]

    @classmethod
    def of(cls, round_table: pd.DataFrame) -> SurveySample:
        """The survey sample of one labelled round (a training-set table restricted to one date)."""
        if "survey_label" not in round_table:
            raise NotEnoughSurvey(
                "the round table carries no survey_label column (build it as a training set)"
            )
        surveyed = round_table["survey_label"].notna().to_numpy()
        positions = np.flatnonzero(surveyed)
        district = round_table["gu"].astype("str").to_numpy()
        registered = pd.Series(district).value_counts()
        sampled = pd.Series(district[positions]).value_counts()
        weight_of = (registered / sampled).dropna()
        weight = pd.Series(district[positions]).map(weight_of).to_numpy(dtype=float)
        return cls(
            positions=positions,
            found=round_table["survey_label"].to_numpy(dtype=float)[positions],
            weight=weight,
            round_households=len(round_table),
            districts_without_survey=tuple(sorted(set(registered.index) - set(sampled.index))),
        )

    @property
    def households(self) -> int:
        return len(self.positions)

    @property
    def positives(self) -> int:
        return int(self.found.sum())
