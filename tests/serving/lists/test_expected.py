"""A list's expected finds: the sum of its calibrated risks, with the range a normal round lands in."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from serving.lists.expected import EXACT_UP_TO, expected_finds


def test_equal_risks_give_the_binomial_interval() -> None:
    found = expected_finds(np.full(15, 0.4))
    assert found.households == 15 and found.expected == pytest.approx(6.0)
    assert (found.low, found.high) == (
        int(stats.binom.ppf(0.05, 15, 0.4)),
        int(stats.binom.ppf(0.95, 15, 0.4)),
    )
    assert found.sentence_ko.startswith("이번 목록 15가구 중 약 6가구에서 고립·위험 발견 예상")


def test_the_interval_holds_about_nine_rounds_in_ten_when_the_risks_are_calibrated() -> None:
    rng = np.random.default_rng(5)
    risks = rng.beta(2, 3, 40)
    found = expected_finds(risks)
    rounds = (rng.random((20_000, len(risks))) < risks).sum(axis=1)
    held = np.mean([found.holds(int(n)) for n in rounds])
    assert 0.90 <= held <= 0.96  # whole households: the exact interval is at least 90 %


def test_a_long_list_gets_the_normal_approximation_close_to_the_exact_one() -> None:
    risks = np.random.default_rng(1).uniform(0.05, 0.6, EXACT_UP_TO + 1)
    approximate = expected_finds(risks)
    exact = expected_finds(risks[:-1])
    assert abs(approximate.low - exact.low) <= 2 and abs(approximate.high - exact.high) <= 2


def test_an_empty_list_expects_nothing_and_missing_risks_are_not_counted() -> None:
    assert expected_finds(np.array([])).expected == 0.0
    found = expected_finds(np.array([0.5, np.nan, 0.5]))
    assert found.households == 2 and found.expected == 1.0
