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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.labels import SURVEY_LABEL_SOURCES
from training.figures import TestRoundFigures, provenance_key


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


def survey_provenance(round_table: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """The round's survey labels by district and by where they came from (features.labels'
    SURVEY_LABEL_SOURCES): households and positives per (gu, source) that occurs.

    A survey label counts for calibration and promotion as an unbiased look at the city; how many
    rest on a draw recorded before the visit is what tells a reviewer whether that trust is earned.
    """
    surveyed = round_table.loc[round_table["survey_label"].notna(), ["household_id", "gu", "survey_label"]]
    surveyed = surveyed.assign(
        household_id=surveyed["household_id"].astype("str"), gu=surveyed["gu"].astype("str")
    )
    known = sources.assign(household_id=sources["household_id"].astype("str"))
    merged = surveyed.merge(known, on="household_id", how="left")
    # A label the window's survey visits gave but no source row names cannot be vouched for.
    merged["source"] = merged["source"].fillna("no_recorded_sample").astype("str")
    table = (
        merged.groupby(["gu", "source"], observed=True)
        .agg(households=("household_id", "size"), positives=("survey_label", "sum"))
        .reset_index()
    )
    table["positives"] = table["positives"].astype("int64")
    order = {source: position for position, source in enumerate(SURVEY_LABEL_SOURCES)}
    return table.sort_values(
        ["gu", "source"], key=lambda c: c.map(order) if c.name == "source" else c
    ).reset_index(drop=True)


def count_provenance(provenance: pd.DataFrame, figures: TestRoundFigures) -> None:
    """Survey labels of the test round per source, summed over districts, among its figures."""
    per_source = provenance.groupby("source")["households"].sum()
    for source in SURVEY_LABEL_SOURCES:
        figures.counted(provenance_key(source), per_source.get(source, 0))


def provenance_sentence(metrics: Mapping[str, float]) -> str | None:
    """Where the test round's survey labels came from, in one sentence (the card and `anbu train`)."""
    counts = [metrics.get(provenance_key(source)) for source in SURVEY_LABEL_SOURCES]
    if any(count is None for count in counts) or sum(counts) == 0:
        return None
    recorded, after, unrecorded = (int(count) for count in counts)
    return (
        f"Survey labels: {recorded:,} from a sweep sample recorded before the visit, {after:,} from "
        f"a sample recorded only after it, {unrecorded:,} from no recorded sample (a sweep drawn "
        "outside anbu, or a visit marked survey by hand); by district in evaluation/survey_provenance.csv"
    )
