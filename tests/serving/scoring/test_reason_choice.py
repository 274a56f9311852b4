"""The compiled choice gives every household exactly the reasons the rules say, read one by one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.catalogue import by_name
from serving.scoring.reason_choice import PARALLEL_FROM
from serving.scoring.reasons import HISTORY_SHARE, MAX_REASONS, MIN_CONTRIBUTION, ReasonPlan, choose


def _rules(contributions: np.ndarray, values: np.ndarray, plan: ReasonPlan) -> list[list[tuple]]:
    """Each household's (group, column, value, strength) as the module docstring of
    serving/scoring/reasons.py states the rules, one household at a time in plain Python."""
    slots = min(MAX_REASONS, len(plan.groups))
    chosen = []
    for household in range(len(values)):
        strength, lead = {}, {}
        for group in range(len(plan.groups)):
            columns = [f for f in range(len(plan.features)) if plan.membership[f, group]]
            total = sum(contributions[household, f] for f in columns)
            showing = [f for f in columns if _shows(plan, f, values[household, f])]
            if showing and total > MIN_CONTRIBUTION:
                strength[group] = total
                lead[group] = max(showing, key=lambda f: (contributions[household, f], -f))
        strongest = sorted(strength, key=lambda g: (-strength[g], g))[:slots]
        shown_total = sum(strength[g] for g in strongest)
        kept = [g for g in strength if not (plan.history[g] and strength[g] < HISTORY_SHARE * shown_total)]
        top = sorted(kept, key=lambda g: (-strength[g], g))[:slots]
        ordered = [g for g in top if not plan.history[g]] + [g for g in top if plan.history[g]]
        chosen.append(
            [(g, lead[g], values[household, lead[g]], strength[g]) for g in ordered]
            + [(-1, -1, math.nan, -math.inf)] * (slots - len(ordered))
        )
    return chosen


def _shows(plan: ReasonPlan, column: int, value: float) -> bool:
    if math.isnan(value):
        return False
    return plan.catalogue[plan.features[column]].reason_when == "present" or value > 0


def _as_rows(chosen) -> list[list[tuple]]:
    return [
        list(zip(*(part.tolist() for part in parts), strict=True))
        for parts in zip(chosen.group, chosen.column, chosen.value, chosen.strength, strict=True)
    ]


def _same(got: list[list[tuple]], expected: list[list[tuple]]) -> None:
    for household, (row, wanted) in enumerate(zip(got, expected, strict=True)):
        for slot, (a, b) in enumerate(zip(row, wanted, strict=True)):
            same = (
                a[:2] == b[:2] and (a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2]))) and a[3] == b[3]
            )
            assert same, f"household {household} slot {slot}: {a} against {b}"


@pytest.fixture(scope="module")
def city() -> tuple[np.ndarray, np.ndarray, ReasonPlan]:
    """Every catalogue feature, contributions on a coarse grid (equal strengths are common), values
    with missing ones and zeros, and history contributions large enough to compete."""
    plan = ReasonPlan.for_features(list(by_name()))
    rng = np.random.default_rng(37)
    households, features = 3_000, len(plan.features)
    contributions = np.round(rng.normal(0.0, 0.3, (households, features + 1)), 1)
    values = rng.poisson(0.7, (households, features)).astype(np.float64)
    values[rng.random(values.shape) < 0.2] = np.nan
    return contributions, values, plan


@pytest.mark.parametrize("households", [1, PARALLEL_FROM - 1, 3_000], ids=["one", "serial", "parallel"])
def test_every_household_gets_the_reasons_the_rules_give(city, households: int) -> None:
    contributions, values, plan = city
    assert plan.history.any() and len(plan.groups) > MAX_REASONS
    chosen = choose(contributions[:households], values[:households], plan)
    _same(_as_rows(chosen), _rules(contributions[:households], values[:households], plan))


def test_the_choice_reads_a_column_major_matrix_as_it_reads_a_row_major_one(city) -> None:
    contributions, values, plan = city
    by_rows = choose(contributions, values, plan)
    by_columns = choose(np.asfortranarray(contributions), np.asfortranarray(values), plan)
    _same(_as_rows(by_columns), _as_rows(by_rows))


def test_of_equal_strengths_the_group_first_in_the_plan_is_shown_first() -> None:
    features = ["crisis_utility_3m", "crisis_health_12m", "age", "housing_type", "lives_alone", "tenure"]
    plan = ReasonPlan.for_features(features)
    values = np.ones((1, len(features)))
    contributions = np.full((1, len(features) + 1), 0.5)
    chosen = choose(contributions, values, plan)
    assert chosen.group[0].tolist() == sorted(chosen.group[0].tolist())
    assert len(chosen.group[0]) == MAX_REASONS


def test_a_household_without_reasons_has_only_empty_slots() -> None:
    plan = ReasonPlan.for_features(["crisis_utility_3m", "age", "lives_alone"])
    values = np.array([[0.0, np.nan, 1.0]])
    contributions = np.array([[2.0, 1.0, -0.5, 0.0]])  # nothing shown: zero, missing, lowering risk
    chosen = choose(contributions, values, plan)
    assert chosen.group.tolist() == [[-1, -1, -1]] and chosen.column.tolist() == [[-1, -1, -1]]
    assert np.isnan(chosen.value).all() and (chosen.strength == -np.inf).all()


def test_contributions_that_do_not_fit_the_values_are_refused_not_read_past() -> None:
    plan = ReasonPlan.for_features(["crisis_utility_3m", "age", "lives_alone"])
    values = np.ones((2, 3))
    with pytest.raises(ValueError, match="contributions for 2 households and 3 features"):
        choose(np.ones((2, 2)), values, plan)
    with pytest.raises(ValueError, match="contributions for 2 households"):
        choose(np.ones((1, 4)), values, plan)
    with pytest.raises(ValueError, match="3 feature columns"):
        choose(np.ones((2, 4)), np.ones((2, 2)), plan)
