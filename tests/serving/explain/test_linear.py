"""A logistic regression served with exact reasons: its log-odds are the pipeline's, its
contributions sum with the base value to them, and calibration and text keep both exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.explain.linear import LinearScore, from_pipeline
from training.baselines import logistic_pipeline

FEATURES = ["arrears_months", "age", "never_missing", "always_missing", "housing_code", "tenure_code"]
CATEGORICAL = ["housing_code", "tenure_code"]


def _rows(n: int, rng: np.random.Generator) -> np.ndarray:
    values = np.column_stack(
        [
            np.where(rng.random(n) < 0.3, np.nan, rng.poisson(3, n)),  # often missing
            rng.normal(60, 15, n),
            rng.normal(0, 1, n),
            np.full(n, np.nan),  # never delivered: training drops it
            np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 7, n)),
            rng.integers(0, 5, n).astype(float),
        ]
    )
    return values


@pytest.fixture(scope="module")
def fitted() -> tuple[object, LinearScore, np.ndarray]:
    rng = np.random.default_rng(4)
    train = _rows(4_000, rng)
    logit = 0.4 * np.nan_to_num(train[:, 0], nan=5) - 0.02 * train[:, 1] + (train[:, 4] == 5) * 1.2
    label = rng.random(len(train)) < 1 / (1 + np.exp(-(logit - 1)))
    pipeline = logistic_pipeline([f for f in FEATURES if f not in CATEGORICAL], CATEGORICAL, seed=0)
    pipeline.fit(pd.DataFrame(train, columns=FEATURES), label)
    return pipeline, from_pipeline(pipeline, FEATURES, CATEGORICAL, train), train


def _unseen(rng: np.random.Generator) -> np.ndarray:
    rows = _rows(2_000, rng)
    rows[:50, 4] = 11.0  # a housing code training never saw
    rows[50:100, 5] = np.nan  # a tenure code missing, where training always had one
    rows[100:150, 1] = np.nan  # an age missing, where training never saw one missing
    return rows


def test_the_served_log_odds_are_the_pipelines(fitted) -> None:
    pipeline, linear, _ = fitted
    rows = _unseen(np.random.default_rng(5))
    expected = pipeline.decision_function(pd.DataFrame(rows, columns=FEATURES))
    assert np.abs(linear.raw_score(rows) - expected).max() < 1e-9
    assert (
        np.abs(
            linear.predict(rows) - pipeline.predict_proba(pd.DataFrame(rows, columns=FEATURES))[:, 1]
        ).max()
        < 1e-12
    )


def test_contributions_sum_with_the_base_value_to_the_log_odds_and_centre_on_training(fitted) -> None:
    _, linear, train = fitted
    rows = _unseen(np.random.default_rng(6))
    contributions = linear.contributions(rows)
    assert contributions.shape == (len(rows), len(FEATURES) + 1)
    assert np.abs(contributions.sum(axis=1) - linear.raw_score(rows)).max() < 1e-9
    assert np.abs(linear.contributions(train)[:, :-1].mean(axis=0)).max() < 1e-9  # centred on training
    assert (contributions[:, FEATURES.index("always_missing")] == 0).all()
    # A feature's contribution depends on its own value only: change one, only its column moves.
    moved = rows.copy()
    moved[:, 1] += 10
    delta = linear.contributions(moved) - contributions
    assert np.abs(np.delete(delta, 1, axis=1)).max() == 0


def test_calibration_folds_in_and_the_text_keeps_every_digit(fitted) -> None:
    _, linear, _ = fitted
    rows = _unseen(np.random.default_rng(7))
    calibrated = linear.calibrated(0.8, -0.3)
    assert np.abs(calibrated.raw_score(rows) - (0.8 * linear.raw_score(rows) - 0.3)).max() < 1e-9
    assert np.abs(calibrated.contributions(rows).sum(axis=1) - calibrated.raw_score(rows)).max() < 1e-9
    again = LinearScore.from_text(calibrated.to_text())
    assert np.array_equal(again.contributions(rows), calibrated.contributions(rows))
    with pytest.raises(ValueError, match="not a logistic model"):
        LinearScore.from_text('{"family": "lightgbm"}')


def test_the_terms_of_a_block_are_each_features_own_term_to_the_last_bit(fitted) -> None:
    """The numeric terms are computed side by side for speed; each must still be exactly what the
    feature's own term gives (a served reason must not move with how many rows were scored)."""
    _, linear, _ = fitted
    rows = _unseen(np.random.default_rng(6))
    together = linear.term_matrix(rows)
    for j, name in enumerate(FEATURES):
        term = linear.terms.get(name)
        alone = term.of(rows[:, j]) if term is not None else np.zeros(len(rows))
        np.testing.assert_array_equal(together[:, j], alone, err_msg=name)
    np.testing.assert_array_equal(linear.term_matrix(rows[:7]), together[:7])
