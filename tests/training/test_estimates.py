"""Survey estimates: the same functional on the survey and on every household, and intervals that
cover what a visit to every household would find."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.estimates import (
    CalibrationBins,
    Sample,
    calibration_error,
    census_calibration_error,
    estimate,
    exact,
    group_ratio_estimates,
    group_recall_ratios,
    list_found_share,
    list_gain,
    mean_risk_ratio,
    share_estimate,
    wilson,
)
from training.evaluation import Ranking, compare_lists
from training.metrics import top_k_mask
from training.survey import SurveySample


def _city(n: int = 20_000, seed: int = 0, miscalibration: float = 1.0):
    """Served risk, and what a visit finds in expectation (risk × miscalibration)."""
    rng = np.random.default_rng(seed)
    risk = np.clip(rng.beta(0.6, 9.0, n), 0.001, 0.95)
    return risk, np.clip(risk * miscalibration, 0, 1)


def _survey(found_rate: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    positions = np.sort(rng.choice(len(found_rate), size, replace=False))
    return positions, (rng.random(size) < found_rate[positions]).astype(float)


def test_a_figure_of_every_household_is_computed_exactly() -> None:
    found = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
    on_list = np.array([True, True, False, False, True])
    whole = Sample.census(found, {"list": on_list})
    assert exact(list_found_share, whole, ("list",)) == pytest.approx(1.5 / 3)
    assert exact(mean_risk_ratio, Sample.census(found, {"risk": found * 2}), ("risk",)) == pytest.approx(2.0)


def test_survey_households_stand_for_their_districts_registered_households() -> None:
    table = pd.DataFrame(
        {
            "gu": ["A"] * 10 + ["B"] * 10 + ["C"] * 5,
            "survey_label": [1.0, 0.0] + [np.nan] * 8 + [0.0] * 5 + [np.nan] * 5 + [np.nan] * 5,
        }
    )
    sample = SurveySample.of(table)
    assert sample.households == 7 and sample.positives == 1
    assert sample.weight.tolist() == [5.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert sample.districts_without_survey == ("C",)


def test_a_share_of_four_households_all_found_fine_keeps_an_honest_interval() -> None:
    none_found = share_estimate(np.zeros(4), np.ones(4), np.ones(4, dtype=bool))
    assert none_found.value == 0.0 and none_found.low == 0.0 and 0.3 < none_found.high < 0.5
    all_found = share_estimate(np.ones(4), np.ones(4), np.ones(4, dtype=bool))
    assert all_found.high == 1.0 and 0.5 < all_found.low < 0.7
    nobody = share_estimate(np.ones(4), np.ones(4), np.zeros(4, dtype=bool))
    assert np.isnan(nobody.value) and nobody.households == 0


def test_shares_on_a_small_cities_list_cover_what_every_household_would_show() -> None:
    risk, found_rate = _city()
    on_list = top_k_mask(risk, 200)
    truth = found_rate[on_list].mean()
    rng = np.random.default_rng(1)
    covered = []
    for _ in range(300):
        positions, found = _survey(found_rate, 300, rng)
        share = share_estimate(found, np.ones(len(found)), on_list[positions])
        if share.households:
            covered.append(share.covers(truth))
    assert len(covered) > 250 and np.mean(covered) >= 0.85


@pytest.mark.parametrize("miscalibration", [1.0, 1.4])
def test_calibration_error_intervals_cover_the_true_error_well_calibrated_or_not(
    miscalibration: float,
) -> None:
    risk, found_rate = _city(miscalibration=miscalibration)
    bins = CalibrationBins.of(risk)
    truth = census_calibration_error(bins, Sample.census(found_rate, {"bin": bins.codes}))
    rng = np.random.default_rng(2)
    results = []
    for seed in range(60):
        positions, found = _survey(found_rate, 700, rng)
        survey = Sample.survey(found, np.ones(len(found)), positions, {"bin": bins.codes})
        results.append(calibration_error(bins, survey, seed))
    coverage = np.mean([r.error.covers(truth) for r in results])
    assert coverage >= 0.85
    # the plain estimate is biased upwards by the survey's noise, which is reported beside it
    assert np.mean([r.error.value for r in results]) > truth
    assert all(r.noise > 0 for r in results)


def test_the_calibration_curve_has_the_citys_mean_risk_and_the_surveys_rate_per_decile() -> None:
    risk, found_rate = _city()
    bins = CalibrationBins.of(risk)
    positions, found = _survey(found_rate, 2_000, np.random.default_rng(3))
    curve = calibration_error(
        bins, Sample.survey(found, np.ones(len(found)), positions, {"bin": bins.codes}), 0
    ).curve
    assert len(curve) == 10 and curve["survey_households"].sum() == 2_000
    assert (curve["mean_risk"].diff().dropna() > 0).all()
    assert (
        (curve["found_rate_low"] <= curve["found_rate"]) & (curve["found_rate"] <= curve["found_rate_high"])
    ).all()


def test_a_group_the_list_misses_has_a_low_recall_ratio_and_its_counts() -> None:
    found = np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    on_list = np.array([True, True, True, False, False, False, True, False])
    codes = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    ratios = group_recall_ratios(found, np.ones(8), on_list, codes, 2)
    assert ratios.tolist() == pytest.approx([2.0, 0.0])
    table = group_ratio_estimates(
        Sample.census(found, {"list": on_list, "codes": codes}), "codes", ["a", "b"], "list"
    )
    assert table["survey_positives"].tolist() == [3, 3]
    assert table["recall_ratio"].tolist() == pytest.approx([2.0, 0.0])
    assert (table["recall_ratio_low"] <= table["recall_ratio"]).all()
    assert (table["recall_ratio"] <= table["recall_ratio_high"]).all()
    # a group none of whose positives is on the list still gets an upper bound above zero
    assert table["recall_ratio_low"].iloc[1] == 0.0 and table["recall_ratio_high"].iloc[1] > 0.3


def test_group_recall_ratio_intervals_cover_every_households_ratio() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    codes = rng.integers(0, 3, n)
    risk = np.clip(rng.beta(0.6, 9.0, n) * np.array([1.0, 0.6, 1.4])[codes], 0, 0.95)
    on_list = top_k_mask(risk, 600)
    truth = group_recall_ratios(risk, np.ones(n), on_list, codes, 3)
    covered = []
    for _ in range(200):
        positions = np.sort(rng.choice(n, 1_500, replace=False))
        found = (rng.random(len(positions)) < risk[positions]).astype(float)
        sample = Sample.survey(found, np.ones(len(found)), positions, {"list": on_list, "codes": codes})
        table = group_ratio_estimates(sample, "codes", ["a", "b", "c"], "list")
        covered += [
            low <= t <= high
            for low, high, t in zip(table["recall_ratio_low"], table["recall_ratio_high"], truth, strict=True)
        ]
    assert np.mean(covered) >= 0.88


def test_two_lists_are_compared_where_both_hold_enough_survey_households() -> None:
    risk, found_rate = _city(n=10_000)
    rule = np.random.default_rng(4).random(len(risk))
    district = np.array(["a", "b"] * 5_000)
    positions = np.arange(0, len(risk), 50)  # a 2 % survey
    compared = compare_lists(
        Ranking(risk, district, "need", probabilities=True),
        Ranking(rule, district, "need", probabilities=False),
        positions,
        0.01,
        20,
    )
    assert compared.share > 0.01
    assert min(compared.member[positions].sum(), compared.other[positions].sum()) >= 20
    columns = {"member": compared.member, "other": compared.other}
    gain = estimate(
        list_gain,
        Sample.survey(found_rate[positions], np.ones(len(positions)), positions, columns),
        ("member", "other"),
        0,
    )
    assert gain.low < gain.value < gain.high


@pytest.mark.parametrize("households", [1.0, 3.5, 5.0, 7.5, 8.25, 40.0, 212.75, 1999.0])
def test_a_share_of_all_or_none_lies_inside_its_own_wilson_interval(households: float) -> None:
    # In floating point the upper bound at p = 1 came out as 0.9999999999999999 for about a third
    # of sample sizes (and the lower bound at p = 0 above 0): a list whose every survey household
    # was found reported a precision outside its own interval.
    assert wilson(1.0, households)[1] == 1.0 and wilson(1.0, households)[0] < 1.0
    assert wilson(0.0, households)[0] == 0.0 and wilson(0.0, households)[1] > 0.0
    for p in (0.1, 0.5, 0.97):
        low, high = wilson(p, households)
        assert low <= p <= high


def test_a_comparison_across_capacities_pools_the_lists_and_an_empty_capacity_adds_nothing() -> None:
    from training.estimates import curve_gain, list_gain

    found = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    weight = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    small_member = np.array([True, False, False, False, False, False])
    small_other = np.array([False, True, False, False, False, False])
    large_member = np.array([True, False, True, True, False, False])
    large_other = np.array([False, True, False, True, True, False])
    # member: found weight 1 + (1 + 2) over listed weight 1 + (1 + 2 + 1); other: 0 + 1 over 1 + 3
    assert curve_gain(found, weight, small_member, small_other, large_member, large_other) == 4 / 5 - 1 / 4
    nobody = np.zeros(6, dtype=bool)  # a capacity whose lists hold no survey household
    assert curve_gain(found, weight, nobody, nobody, large_member, large_other) == list_gain(
        found, weight, large_member, large_other
    )
