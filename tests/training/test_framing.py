"""Which rows a model learns from: the framing picks the labelled ones, the population the households."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anbu.settings import KNOWN_WINDOW_DAYS
from training.config import Label
from training.framing import frame_rows


def _training_round() -> pd.DataFrame:
    # H0 found at risk two months before the round (known), H1 found two years before (not known
    # any more), H2 never found, H3 unvisited after the round (no label).
    return pd.DataFrame(
        {
            "household_id": ["H0", "H1", "H2", "H3"],
            "round_date": pd.Timestamp("2025-09-30"),
            "last_finding_on": pd.to_datetime(pd.Series(["2025-07-30", "2023-09-01", None, None])),
            "label": [1.0, 0.0, 1.0, np.nan],
            "label_survey": [0, 1, 0, 0],
            "crisis_count": [3, 1, 2, 0],
        }
    )


def test_every_labelled_household_trains_the_model_by_default() -> None:
    rows = frame_rows(_training_round(), Label(), ["crisis_count"], KNOWN_WINDOW_DAYS)
    assert rows.features["crisis_count"].tolist() == [3, 1, 2]
    assert rows.label.tolist() == [1, 0, 1]
    assert rows.weight.tolist() == [1.0, 5.0, 1.0]


def test_the_discovery_population_leaves_out_households_outreach_already_found() -> None:
    rows = frame_rows(
        _training_round(), Label(population="not_yet_known"), ["crisis_count"], KNOWN_WINDOW_DAYS
    )
    assert rows.features["crisis_count"].tolist() == [1, 2]
    assert rows.label.tolist() == [0, 1]
    assert rows.weight.tolist() == [5.0, 1.0]


def test_the_population_applies_before_the_naive_framing_counts_the_unvisited_as_negative() -> None:
    label = Label(framing="unvisited_negative", population="not_yet_known")
    rows = frame_rows(_training_round(), label, ["crisis_count"], KNOWN_WINDOW_DAYS)
    assert rows.label.tolist() == [0, 1, 0]
