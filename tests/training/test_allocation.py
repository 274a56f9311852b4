"""Capacity split between districts by expected need, each district visiting its own top."""

from __future__ import annotations

import numpy as np

from training.allocation import capacity_list, district_quotas


def test_quotas_follow_need_and_add_up_to_the_capacity_exactly() -> None:
    district = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    need = np.array([0.5] * 6 + [0.5] * 3 + [0.1])
    quotas = district_quotas(district, need, 4)
    assert quotas.to_dict() == {"a": 3, "b": 1, "c": 0}
    assert district_quotas(district, np.ones(10), 5).to_dict() == {"a": 3, "b": 2, "c": 0}


def test_each_district_visits_its_own_top() -> None:
    score = np.array([0.9, 0.8, 0.1, 0.01, 0.02, 0.03])
    district = np.array(["a", "a", "a", "b", "b", "b"])
    by_households = capacity_list(score, district, 2, "need", need=None)
    assert by_households.tolist() == [True, False, False, False, False, True]
    by_need = capacity_list(score, district, 2, "need", need=score)
    assert by_need.tolist() == [True, True, False, False, False, False]
    assert capacity_list(score, district, 2, "city").tolist() == [True, True, False, False, False, False]


def test_a_district_whose_troubled_households_score_lower_still_gets_visits() -> None:
    rng = np.random.default_rng(0)
    district = np.array(["high"] * 500 + ["low"] * 500)
    risk = np.r_[rng.uniform(0.05, 0.3, 500), rng.uniform(0.02, 0.15, 500)]
    city = capacity_list(risk, district, 50, "city")
    need = capacity_list(risk, district, 50, "need", need=risk)
    assert city[500:].sum() < 5
    assert need[500:].sum() == round(50 * risk[500:].sum() / risk.sum())
