"""The shuffled-label negative control: a model that can learn nothing, for showing the gates refuse it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.train import shuffled_labels


def test_shuffled_labels_keep_each_rounds_counts_and_move_who_has_them() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(400)],
            "round_date": pd.to_datetime(["2025-03-31"] * 200 + ["2025-05-31"] * 200),
            "label": np.where(rng.random(400) < 0.3, np.nan, (rng.random(400) < 0.2).astype(float)),
            "label_survey": (rng.random(400) < 0.1).astype(int),
            "survey_label": np.where(rng.random(400) < 0.8, np.nan, (rng.random(400) < 0.3).astype(float)),
        }
    )
    shuffled = shuffled_labels(train, seed=1)
    for day, rows in train.groupby("round_date"):
        moved = shuffled[shuffled["round_date"] == day]
        assert moved["label"].isna().equals(rows["label"].isna())  # who was labelled stays labelled
        assert moved["label"].sum() == rows["label"].sum()
        assert (
            moved["survey_label"].sum()
            == rows.loc[rows["label"].notna(), "survey_label"].sum()
            + rows.loc[rows["label"].isna(), "survey_label"].sum()
        )
        assert (
            moved.loc[rows["label"].notna(), "label_survey"].sum()
            == rows.loc[rows["label"].notna(), "label_survey"].sum()
        )
    labelled = train["label"].notna()
    assert (shuffled.loc[labelled, "label"] != train.loc[labelled, "label"]).any()
