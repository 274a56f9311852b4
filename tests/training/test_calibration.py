"""Calibration folded into the trees: probabilities change, explanations stay exact."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training.calibration import PlattScaling, VisitNoiseScaling, fold_into_booster
from training.fitting import require_ranking_seen
from training.survey import NotEnoughSurvey


def _booster() -> tuple[lgb.Booster, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8_000, 4))
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x[:, 0] * x[:, 1] + x[:, 2] - 3)))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7}, lgb.Dataset(x, y), 40)
    return booster, x, y


def test_folded_booster_predicts_the_calibrated_probability() -> None:
    booster, x, _ = _booster()
    scaling = PlattScaling(slope=0.6, intercept=-0.3)
    folded = fold_into_booster(booster, scaling)
    expected = 1 / (1 + np.exp(-(0.6 * booster.predict(x, raw_score=True) - 0.3)))
    assert np.abs(folded.predict(x) - expected).max() < 1e-12


def test_contributions_of_the_folded_booster_sum_to_its_log_odds() -> None:
    booster, x, _ = _booster()
    folded = fold_into_booster(booster, PlattScaling(slope=1.7, intercept=0.4))
    contributions = folded.predict(x, pred_contrib=True)
    assert np.abs(contributions.sum(axis=1) - folded.predict(x, raw_score=True)).max() < 1e-9


def test_platt_fit_recovers_a_known_miscalibration() -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(-2, 1.5, 100_000)
    label = rng.random(len(raw)) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))
    scaling = PlattScaling.fit(raw, label)
    assert abs(scaling.slope - 0.5) < 0.03 and abs(scaling.intercept + 1.0) < 0.06


def test_visit_noise_fit_recovers_the_true_state_through_a_noisy_measurement() -> None:
    rng = np.random.default_rng(2)
    raw = rng.normal(-3, 1.6, 60_000)
    truly = rng.random(len(raw)) < 1 / (1 + np.exp(-(0.9 * raw + 0.5)))
    # A visit records a positive for 4 % of fine households and 70 % of troubled ones.
    found = rng.random(len(raw)) < np.where(truly, 0.70, 0.04)
    noise = VisitNoiseScaling.fit(raw, found.astype(int))
    assert abs(noise.false_positive_rate - 0.04) < 0.01
    assert abs(noise.sensitivity - 0.70) < 0.08
    assert abs(noise.scaling.slope - 0.9) < 0.15
    plain = PlattScaling.fit(raw, found.astype(int))
    true_rate = truly.mean()
    corrected = (1 / (1 + np.exp(-(noise.scaling.slope * raw + noise.scaling.intercept)))).mean()
    naive = (1 / (1 + np.exp(-(plain.slope * raw + plain.intercept)))).mean()
    assert abs(corrected - true_rate) < 0.01 < abs(naive - true_rate)


def test_the_slopes_standard_error_shrinks_with_more_survey_households() -> None:
    rng = np.random.default_rng(3)
    errors = []
    for n in (300, 3_000):
        raw = rng.normal(-2.5, 1.0, n)
        found = (rng.random(n) < 1 / (1 + np.exp(-raw))).astype(int)
        scaling = PlattScaling.fit(raw, found)
        errors.append(scaling.slope_standard_error(raw))
        assert abs(scaling.slope - 1.0) < 4 * errors[-1]
    assert errors[1] < errors[0] / 2.5


def test_a_survey_that_does_not_see_the_ranking_is_refused_rather_than_reverse_it() -> None:
    rng = np.random.default_rng(4)
    raw = rng.normal(-2.5, 1.0, 285)
    unrelated = (rng.random(285) < 0.1).astype(int)
    scaling = PlattScaling.fit(raw, unrelated)
    with pytest.raises(NotEnoughSurvey, match="do not show that higher scores are found more often"):
        require_ranking_seen(scaling, raw, unrelated.astype(float), np.ones(285), "a test survey")
    related = (rng.random(285) < 1 / (1 + np.exp(-raw))).astype(int)
    require_ranking_seen(
        PlattScaling.fit(raw, related), raw, related.astype(float), np.ones(285), "a test survey"
    )
