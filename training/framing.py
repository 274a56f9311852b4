"""Which households a model learns from, given that only visited households have labels.

Most visits follow a list or an alert, so the visited are not the city. Each framing is a
deliberate answer to that (see experiments/README.md and the experiment write-ups).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalogue import Feature, catalogue
from features.families.history import found_within
from training.config import ExperimentConfig, Label


@dataclass(frozen=True)
class TrainingRows:
    features: pd.DataFrame
    label: np.ndarray
    weight: np.ndarray


def model_features(config: ExperimentConfig) -> list[Feature]:
    """The catalogue features an experiment feeds the model, in table order."""
    families, without = set(config.features.families), set(config.features.without)
    protected = config.features.protected_inputs
    # Protected attributes are an input of their own: whichever family computes them.
    chosen = [f for f in catalogue() if (protected if f.protected else f.family in families)]
    return [f for f in chosen if f.name not in without]


def categorical_features(features: list[Feature]) -> list[str]:
    return [f.name for f in features if f.categorical]


def not_yet_known(table: pd.DataFrame, window_days: int) -> np.ndarray:
    """Per row of a round table: no visit in the window up to its round found isolation or risk
    (the window is the city's setting, ANBU_KNOWN_WINDOW_DAYS, the same the lists are built with)."""
    if "last_finding_on" not in table.columns:
        return np.ones(len(table), dtype=bool)
    return ~found_within(table["last_finding_on"], table["round_date"], window_days).to_numpy(dtype=bool)


def frame_rows(
    table: pd.DataFrame, choice: Label, columns: list[str], known_window_days: int
) -> TrainingRows:
    """Rows, labels and weights of a training table under one framing and population."""
    if choice.population == "not_yet_known":
        table = table[not_yet_known(table, known_window_days)]
    framing, survey_weight = choice.framing, choice.survey_weight
    if framing == "unvisited_negative":
        rows = table
        label = rows["label"].fillna(0.0).to_numpy(dtype=int)
        weight = np.ones(len(rows))
    else:
        rows = table[table["label"].notna()]
        label = rows["label"].to_numpy(dtype=int)
        weight = np.ones(len(rows))
        if framing == "survey_weighted":
            weight = np.where(rows["label_survey"].to_numpy() == 1, survey_weight, 1.0)
    return TrainingRows(rows.loc[:, columns].reset_index(drop=True), label, weight)
