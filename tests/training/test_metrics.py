"""Measures at capacity, calibration and group fairness, on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.metrics import (
    capacity_count,
    expected_calibration_error,
    group_metrics,
    precision_recall_at,
    ranking_metrics,
    top_k_mask,
)


def test_top_k_breaks_ties_by_position_so_lists_are_reproducible() -> None:
    assert top_k_mask(np.array([0.5, 0.9, 0.5, 0.1]), 2).tolist() == [True, True, False, False]


def test_precision_and_recall_at_capacity() -> None:
    y = np.array([1, 0, 1, 0, 0, 1])
    selected = top_k_mask(np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.05]), 3)
    assert precision_recall_at(y, selected) == pytest.approx((2 / 3, 2 / 3))


def test_capacity_is_at_least_one_household() -> None:
    assert capacity_count(50, 0.01) == 1
    assert capacity_count(4_159_502, 0.01) == 41_595


def test_perfectly_calibrated_scores_have_no_calibration_error() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 200_000)
    y = rng.random(len(p)) < p
    assert expected_calibration_error(y, p) < 0.003
    assert expected_calibration_error(y, p * 2) > 0.09


def test_ranking_metrics_of_a_perfect_ranking() -> None:
    y = np.array([0] * 98 + [1, 1])
    p = np.linspace(0, 1, 100)
    metrics = ranking_metrics(y, p, top_k_mask(p, 2))
    assert metrics.capacity == 2 and metrics.precision_at_capacity == 1.0
    assert metrics.roc_auc == 1.0 and metrics.positives == 2


def test_group_metrics_show_a_group_that_is_missed() -> None:
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    selected = np.array([True, True, False, False, False, False, True, False])
    groups = pd.DataFrame({"sex": ["M", "M", "M", "M", "F", "F", "F", "F"]})
    table = group_metrics(y, selected, groups).set_index("group")
    assert table.loc["M", "recall_at_capacity"] == 1.0
    assert table.loc["F", "recall_at_capacity"] == 0.0
    assert table.loc["M", "recall_ratio"] == 2.0
    assert table.loc["F", "false_positive_rate"] == 0.5


def test_group_metrics_give_the_expected_recall_without_the_luck_of_who_turned_positive() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    selected = np.array([True, True, False, False, True, False, False, False])
    expected = np.array([0.6, 0.4, 0.1, 0.1, 0.5, 0.1, 0.1, 0.3])
    groups = pd.DataFrame({"sex": ["M", "M", "M", "M", "F", "F", "F", "F"]})
    table = group_metrics(y, selected, groups, expected=expected).set_index("group")
    assert table.loc["F", "recall_at_capacity"] == 0.0  # its one positive was not on the list
    assert table.loc["F", "expected_recall_at_capacity"] == pytest.approx(0.5 / 1.0)
    assert table.loc["M", "expected_recall_at_capacity"] == pytest.approx(1.0 / 1.2)
    assert table.loc["F", "expected_recall_ratio"] == pytest.approx(0.5 / (1.5 / 2.2))
