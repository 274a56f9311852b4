"""The path explainer returns LightGBM's own SHAP values — for every kind of split and value."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from serving.explain import tree_shap
from serving.explain.tree_model import (
    LINEAR_TREES,
    MISSING_NAN,
    MISSING_ZERO,
    SEVERAL_CLASSES,
    Forest,
    UnsupportedModel,
)
from serving.explain.tree_shap import TABLE_BITS, PathExplainer

TOLERANCE = 1e-9


def _data(seed: int, n: int = 4_000, features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    x[:, 0] = rng.integers(0, 12, n)  # categorical codes
    x[:, 1] = np.where(rng.random(n) < 0.3, np.nan, x[:, 1])  # often missing
    x[:, 2] = np.where(rng.random(n) < 0.4, 0.0, x[:, 2])  # often zero
    logit = np.sin(x[:, 0]) + np.nan_to_num(x[:, 1]) * x[:, 3] + (x[:, 2] == 0) - x[:, 4] ** 2 / 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def _train(x: np.ndarray, y: np.ndarray, **params) -> lgb.Booster:
    rounds = params.pop("rounds", 40)
    base = {"objective": "binary", "verbose": -1, "num_leaves": 31, "min_data_in_leaf": 10, "seed": 1}
    return lgb.train({**base, **params}, lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=rounds)


def _edge_rows(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    """Rows whose values sit exactly on, just beside, or far from the model's thresholds, plus
    missing, zero, negative and unseen category codes."""
    forest = Forest.of(booster)
    rng = np.random.default_rng(0)
    rows = np.repeat(x[:50], 8, axis=0).copy()
    numeric = ~forest.categorical
    for i, row in enumerate(rows):
        split = rng.choice(np.flatnonzero(numeric))
        feature, threshold = forest.feature[split], forest.threshold[split]
        row[feature] = [
            threshold,
            np.nextafter(threshold, np.inf),
            np.nextafter(threshold, -np.inf),
            np.nan,
            0.0,
            -0.0,
            1e-36,
            1e30,
        ][i % 8]
    rows[::5, 0] = -1.0  # negative category code
    rows[1::5, 0] = 40.0  # a category never seen in training
    rows[2::5, 0] = np.nan
    rows[3::5, 0] = 3.7  # a code with a fraction, truncated as LightGBM does
    return rows


def _assert_exact(booster: lgb.Booster, rows: np.ndarray, explainer: PathExplainer | None = None) -> None:
    expected = booster.predict(rows, pred_contrib=True)
    actual = (explainer or PathExplainer(booster)).contributions(rows)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= TOLERANCE


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"num_leaves": 64, "min_data_in_leaf": 2, "max_depth": -1, "rounds": 15},
        {"num_leaves": 7, "learning_rate": 0.3, "rounds": 120},
        {"num_leaves": 2, "rounds": 500},
    ],
    ids=["nan-missing", "zero-as-missing", "no-missing", "deep-paths", "many-small-trees", "500-stumps"],
)
def test_contributions_equal_lightgbm_pred_contrib_on_ordinary_and_edge_values(params) -> None:
    x, y = _data(seed=len(params))
    booster = _train(x, y, **params)
    _assert_exact(booster, x)
    _assert_exact(booster, _edge_rows(booster, x))
    raw = booster.predict(x, raw_score=True)  # the same sums, in the same order
    assert np.array_equal(PathExplainer(booster).raw_scores(x), raw)
    untabled = PathExplainer(booster, table_bits=0)  # every leaf by the region passes
    assert untabled.tables.table.size == 0
    _assert_exact(booster, x, untabled)
    _assert_exact(booster, _edge_rows(booster, x), untabled)


def test_a_feature_tested_again_below_counts_once_in_the_region_passes() -> None:
    x, y = _data(seed=4)
    booster = _train(x, y, num_leaves=64, min_data_in_leaf=2, rounds=15)
    regions = PathExplainer(booster, table_bits=0).tables.regions
    assert (regions.earlier != 0).any(), "some split repeats a feature tested above it"
    assert len(regions.top) > 0, "some split's leaves exclude those under a lower split on its feature"
    _assert_exact(booster, x, PathExplainer(booster, table_bits=0))


def test_the_missing_value_rules_of_the_model_are_the_ones_exercised() -> None:
    x, y = _data(seed=3)
    assert MISSING_NAN in Forest.of(_train(x, y)).missing_type
    assert MISSING_ZERO in Forest.of(_train(x, y, zero_as_missing=True)).missing_type


def test_tables_and_region_passes_share_a_tree_and_stay_exact() -> None:
    x, y = _data(seed=6)
    booster = _train(x, y, num_leaves=48, min_data_in_leaf=3)
    explainer = PathExplainer(booster, table_bits=3)
    assert explainer.tables.regions.edges > 0
    assert (explainer.tables.table_offset < 0).any() and (explainer.tables.table_offset >= 0).any()
    _assert_exact(booster, x, explainer)
    _assert_exact(booster, _edge_rows(booster, x), explainer)


def test_subtrees_share_a_table_and_a_tight_budget_makes_them_smaller_not_approximate() -> None:
    x, y = _data(seed=7)
    booster = _train(x, y, num_leaves=63, min_data_in_leaf=5, rounds=20)
    roomy = PathExplainer(booster, table_bits=TABLE_BITS)
    leaves = sum(t["num_leaves"] for t in booster.dump_model()["tree_info"])
    assert roomy.tables.groups < leaves / 2, "most subtrees of a few splits are read as one row"
    assert (np.diff(roomy.tables.split_offset) > 0).any()
    budget = PathExplainer(booster, table_bits=9).tables.table.nbytes
    assert budget < roomy.tables.table.nbytes
    tight = PathExplainer(booster, table_bits=TABLE_BITS, budget=budget)
    assert tight.tables.table.nbytes <= budget
    assert tight.tables.groups > roomy.tables.groups
    none_fits = PathExplainer(booster, budget=1_000)
    assert none_fits.tables.table.nbytes == 0, "no table at all rather than tables over the budget"
    for explainer in (roomy, tight, none_fits):
        _assert_exact(booster, x, explainer)
        _assert_exact(booster, _edge_rows(booster, x), explainer)


@pytest.mark.parametrize("table_bits", [None, 0], ids=["as-chosen", "region-passes-only"])
@pytest.mark.parametrize("block", [1, 7, 129, 512])
def test_any_block_of_households_gives_the_same_values(small_model, block: int, table_bits) -> None:
    booster, explainer = small_model
    if table_bits is not None:
        explainer = PathExplainer(booster, table_bits=table_bits)
    x, _ = _data(seed=13, n=600)
    expected = booster.predict(x, pred_contrib=True)
    assert np.abs(explainer.contributions(x, block=block) - expected).max() <= TOLERANCE
    one = explainer.contributions(x[:1])  # a single household: the lanes it fills, not a whole block
    assert np.abs(one - expected[:1]).max() <= TOLERANCE
    by_column = explainer.contributions(np.asfortranarray(x), block=block)  # as pandas hands a block over
    assert np.abs(by_column - expected).max() <= TOLERANCE
    every_other = explainer.contributions(x[::2], block=block)  # neither layout: copied first
    assert np.abs(every_other - expected[::2]).max() <= TOLERANCE


def test_households_sharing_a_decision_pattern_share_its_values_exactly(small_model) -> None:
    """Each tree is explained once per distinct pattern: repeated households, and households whose
    values differ only between two thresholds, get their pattern's values — the right ones."""
    booster, explainer = small_model
    x, _ = _data(seed=14, n=300)
    nudged = x.copy()
    nudged[:, 3:] = np.nextafter(nudged[:, 3:], np.inf)  # almost surely the same side of every split
    rows = np.concatenate([x, x[::-1], nudged, np.repeat(x[:5], 40, axis=0)])
    expected = booster.predict(rows, pred_contrib=True)
    actual = explainer.contributions(rows)
    assert np.abs(actual - expected).max() <= TOLERANCE
    assert np.array_equal(actual[:300], actual[300:600][::-1])  # the same household, the same values


@pytest.mark.parametrize("table_bits", [None, 0], ids=["as-chosen", "region-passes-only"])
@pytest.mark.parametrize(("chunk", "pattern_budget"), [(97, 1 << 28), (1 << 18, 8 * 600 * 7), (64, 8)])
def test_chunks_of_households_and_groups_of_trees_give_the_same_values(
    monkeypatch, small_model, chunk: int, pattern_budget: int, table_bits
) -> None:
    """Patterns are shared only within a chunk, and held for a group of trees at a time: neither
    boundary changes a value."""
    booster, _ = small_model
    monkeypatch.setattr(tree_shap, "CHUNK", chunk)
    monkeypatch.setattr(tree_shap, "PATTERN_BUDGET", pattern_budget)
    x, _ = _data(seed=15, n=600)
    rows = np.concatenate([x, x[:250]])
    _assert_exact(booster, rows, PathExplainer(booster, table_bits=table_bits))


def test_single_leaf_trees_add_only_their_value() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 400},
        lgb.Dataset(x, (rng.random(500) < 0.5).astype(int)),
        num_boost_round=5,
    )
    _assert_exact(booster, x)


def test_a_65_leaf_tree_finds_its_last_leaf_without_a_bit_for_it() -> None:
    x, y = _data(seed=6, n=8_000)
    booster = _train(x, y, num_leaves=65, min_data_in_leaf=2, rounds=5)
    assert max(t["num_leaves"] for t in booster.dump_model()["tree_info"]) == 65
    explainer = PathExplainer(booster)
    assert explainer.beyond_tables is None
    for rows in (x, _edge_rows(booster, x)):
        assert np.array_equal(explainer.raw_scores(rows), booster.predict(rows, raw_score=True))


def test_trees_beyond_the_tables_fall_back_to_lightgbm_itself() -> None:
    x, y = _data(seed=5)
    booster = _train(x, y, num_leaves=100, min_data_in_leaf=2)
    explainer = PathExplainer(booster)
    assert explainer.beyond_tables and explainer.refusal is None
    _assert_exact(booster, x[:300])
    assert np.array_equal(explainer.raw_scores(x[:300]), booster.predict(x[:300], raw_score=True))


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"objective": "multiclass", "num_class": 3}, SEVERAL_CLASSES),
        ({"linear_tree": True}, LINEAR_TREES),
    ],
    ids=["several-classes", "linear-trees"],
)
def test_a_model_no_exact_explanation_covers_is_refused_not_approximated(params, reason: str) -> None:
    x, y = _data(seed=5)
    if params.get("objective") == "multiclass":
        y = np.digitize(x[:, 4], [-0.5, 0.5])
    if params.get("linear_tree"):
        x = np.nan_to_num(x)
    explainer = PathExplainer(_train(x, y, **params))
    assert explainer.refusal == reason
    with pytest.raises(UnsupportedModel, match=re.escape(reason)):
        explainer.contributions(x[:3])


@pytest.fixture(scope="module")
def small_model() -> tuple[lgb.Booster, PathExplainer]:
    x, y = _data(seed=11)
    booster = _train(x, y)
    return booster, PathExplainer(booster)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(8)),
        elements=st.one_of(
            st.floats(-5, 5, allow_nan=False),
            st.sampled_from([0.0, -0.0, np.nan, 1e-36, -1e-36, 1.0, 2.0, 11.0, -3.0, 1e300]),
        ),
    )
)
def test_any_rows_whatever_their_values(small_model, rows: np.ndarray) -> None:
    booster, explainer = small_model
    expected = booster.predict(rows, pred_contrib=True)
    assert np.abs(explainer.contributions(rows) - expected).max() <= TOLERANCE


def test_a_wrong_width_is_refused_with_the_shape(small_model) -> None:
    _, explainer = small_model
    with pytest.raises(ValueError, match=r"8 feature columns, got shape \(2, 5\)"):
        explainer.contributions(np.zeros((2, 5)))


def test_contributions_sum_to_the_models_raw_score(small_model) -> None:
    booster, explainer = small_model
    x, _ = _data(seed=12, n=1_000)
    raw = booster.predict(x, raw_score=True)
    assert np.abs(explainer.contributions(x).sum(axis=1) - raw).max() <= TOLERANCE
