"""Scoring reads a model only through its served form: a LightGBM booster and a linear model both
give the calibrated probability and exact contributions, rebuild from their text, and score a
round's households with reasons."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from serving.explain.served_model import ServedModel, TreeModel, model_from_text
from serving.scoring.champion import Champion
from serving.scoring.households import score_households
from training.baselines import logistic_pipeline

FEATURES = ["age", "years_at_address", "household_size", "housing_type"]
"""Catalogue features (features/catalogue.py), so the reasons can be worded."""
CATEGORICAL = ["housing_type"]


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = np.column_stack(
        [
            rng.integers(20, 95, n).astype(float),
            np.where(rng.random(n) < 0.2, np.nan, rng.exponential(6, n)),
            rng.integers(1, 5, n).astype(float),
            rng.integers(0, 7, n).astype(float),
        ]
    )
    logit = 0.04 * (values[:, 0] - 60) - 0.5 * (values[:, 2] - 1) + 0.8 * (values[:, 3] == 4) - 2.5
    return values, rng.random(n) < 1 / (1 + np.exp(-logit))


@pytest.fixture(scope="module")
def models() -> dict[str, ServedModel]:
    from serving.explain.linear import from_pipeline

    values, found = _rows(3_000, 1)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1, "deterministic": True},
        lgb.Dataset(pd.DataFrame(values, columns=FEATURES), found, categorical_feature=CATEGORICAL),
        num_boost_round=20,
    )
    pipeline = logistic_pipeline(FEATURES[:3], CATEGORICAL, seed=0).fit(
        pd.DataFrame(values, columns=FEATURES), found
    )
    return {
        "lightgbm": TreeModel(booster),
        "logistic": from_pipeline(pipeline, FEATURES, CATEGORICAL, values),
    }


@pytest.mark.parametrize("family", ["lightgbm", "logistic"])
def test_a_model_rebuilt_from_its_text_serves_the_same_risks_and_reasons(models, family) -> None:
    model = models[family]
    values, _ = _rows(500, 2)
    rebuilt = model_from_text(model.to_text())
    assert rebuilt.family == family and rebuilt.features == FEATURES
    assert np.array_equal(rebuilt.predict(values), model.predict(values))
    assert np.abs(rebuilt.contributions(values) - model.contributions(values)).max() < 1e-12
    logit = np.log(model.predict(values) / (1 - model.predict(values)))
    assert np.abs(model.contributions(values).sum(axis=1) - logit).max() < 1e-9


def test_a_large_batch_gets_lightgbms_own_probabilities_to_the_bit(models, monkeypatch) -> None:
    """From FAST_PREDICT_FROM rows on, the probabilities come from the explainer's raw scores."""
    from serving.explain import served_model

    tree = models["lightgbm"]
    values, _ = _rows(2_000, 4)
    monkeypatch.setattr(served_model, "FAST_PREDICT_FROM", 1_000)
    assert np.array_equal(tree.predict(values), tree.booster.predict(values))
    assert np.array_equal(tree.predict(values[:10]), tree.booster.predict(values[:10]))


def test_the_tree_models_contributions_are_lightgbms_own(models) -> None:
    tree = models["lightgbm"]
    values, _ = _rows(500, 3)
    expected = tree.booster.predict(values, pred_contrib=True)
    assert np.abs(tree.contributions(values) - expected).max() < 1e-9


@pytest.mark.parametrize("family", ["lightgbm", "logistic"])
def test_a_round_is_scored_with_reasons_whatever_the_family(models, family) -> None:
    values, _ = _rows(200, 4)
    table = pd.DataFrame(values, columns=FEATURES)
    table.insert(0, "household_id", [f"H{i:05d}" for i in range(len(table))])
    table["round_date"], table["gu"], table["dong_code"] = pd.Timestamp("2026-07-31"), "관악구", "1162052500"
    table["last_finding_on"] = pd.NaT
    champion = Champion(models[family], "7", "run", FEATURES)
    scored = score_households(champion, table).to_pandas()
    # read from the exact contributions' sum, the served log-odds, so equal up to the order of additions
    assert np.abs(scored["risk"].to_numpy() - models[family].predict(values)).max() <= 1e-12
    assert scored["reasons"].map(len).gt(0).any()
    if family == "logistic":
        with pytest.raises(TypeError, match="a logistic model, not LightGBM"):
            _ = champion.booster


def test_trees_boosted_from_the_logistic_serve_the_sum_with_exact_reasons(models) -> None:
    from serving.explain.served_model import LinearPlusTrees
    from training.calibration import PlattScaling, fold_into_booster

    linear = models["logistic"]
    values, found = _rows(3_000, 1)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1, "deterministic": True},
        lgb.Dataset(
            pd.DataFrame(values, columns=FEATURES),
            found,
            init_score=linear.raw_score(values),
            categorical_feature=CATEGORICAL,
        ),
        num_boost_round=15,
    )
    rows, _ = _rows(400, 5)
    both = LinearPlusTrees(linear, TreeModel(booster))
    raw = linear.raw_score(rows) + booster.predict(rows, raw_score=True)
    assert np.abs(both.raw_score(rows) - raw).max() < 1e-12
    assert np.abs(both.contributions(rows).sum(axis=1) - raw).max() < 1e-9
    # Platt's slope folded into both parts, its intercept into the linear one: the sum is scaled.
    slope, intercept = 0.7, -0.4
    calibrated = LinearPlusTrees(
        linear.calibrated(slope, intercept), TreeModel(fold_into_booster(booster, PlattScaling(slope, 0.0)))
    )
    assert np.abs(calibrated.raw_score(rows) - (slope * raw + intercept)).max() < 1e-9
    assert np.abs(calibrated.contributions(rows).sum(axis=1) - calibrated.raw_score(rows)).max() < 1e-9
    rebuilt = model_from_text(calibrated.to_text())
    assert rebuilt.family == "logistic_plus_trees"
    assert np.abs(rebuilt.contributions(rows) - calibrated.contributions(rows)).max() < 1e-12
    with pytest.raises(ValueError, match="cannot serve"):
        model_from_text('{"family": "neural"}')
