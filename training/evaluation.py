"""How a candidate is judged on its test round: from the survey always, against the truth when a
synthetic city has one.

A real city has only visits. Its evidence about the whole city's ranking is the survey sample of
the test round (training/survey.py): every figure below is estimated from it for the city's own
lists (top of the whole city at capacity), with a 90 % interval and the number of survey
households behind it (`model_survey_*`). For a synthetic city the same figures are also computed
exactly from what a visit to every household would find (`model_census_*`; bench/estimates.py
checks that the survey intervals cover them), and against the true state (`model_truth_*`, with
the best possible ranking), as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthetic.truth import census_found_for
from training.allocation import Allocation, capacity_list
from training.config import COMPARISON_CAPACITIES
from training.discovery import discovery_figures
from training.estimates import (
    CalibrationBins,
    Sample,
    calibration_error,
    census_calibration_error,
    curve_gain,
    estimate,
    exact,
    group_ratio_estimates,
    group_recall_ratios,
    list_found_share,
    list_gain,
    list_lift,
    list_recall,
    mean_risk_ratio,
    share_estimate,
)
from training.figures import (
    TEST_SURVEY_HOUSEHOLDS,
    TEST_SURVEY_POSITIVES,
    Estimated,
    Figure,
    TestRoundFigures,
)
from training.metrics import capacity_count, group_metrics, ranking_metrics
from training.survey import SurveySample

MIN_EVALUATION_SURVEY_HOUSEHOLDS = 30
"""Below this many survey households in the test round's window nothing is estimated from it."""
SCORERS_WITH_PROBABILITIES = ("model", "logistic", "best_possible", "champion")
GROUPINGS = {
    "gu": "district",
    "age_band": "age band",
    "head_sex": "sex",
    "housing_type_name": "housing type",
    "lives_alone": "living alone",
}
GATED_GROUPINGS = ("gu", "age_band", "head_sex", "housing_type_name")
"""The groupings DOMAIN.md asks fairness across. Living alone is reported too, but it is the risk
the programme targets (one-person households), so a lower recall for households living with
others is expected and shown rather than gated."""
COMPARISON_SHARES = (1, 1.5, 2, 3, 5, 7.5, 10, 15, 20)
"""Multiples of the team's capacity tried, in order, for a comparison of two lists."""


@dataclass(frozen=True)
class Comparison:
    """Two lists compared on the same survey households, at the first capacity with enough of them."""

    share: float
    member: np.ndarray
    other: np.ndarray


@dataclass
class TestRoundEvaluation:
    figures: TestRoundFigures = field(default_factory=TestRoundFigures)
    tags: dict[str, str] = field(default_factory=dict)
    calibration_curve: pd.DataFrame | None = None
    survey_groups: pd.DataFrame | None = None
    """One row per (grouping, group): recall ratio from the survey with its interval and counts,
    whether it is judged, and (synthetic city) the census ratio."""
    truth_groups: pd.DataFrame | None = None
    lists: dict[str, np.ndarray] = field(default_factory=dict)


def group_labels(test: pd.DataFrame) -> pd.DataFrame:
    """The fairness groupings of a round, as strings ('unknown' where missing)."""
    groups = test[[g for g in GROUPINGS if g != "lives_alone"]].astype("str").fillna("unknown")
    groups["lives_alone"] = np.where(test["lives_alone"] == 1, "alone", "with others")
    return groups


@dataclass(frozen=True)
class Ranking:
    """A ranking of a round's households and how it becomes lists at a capacity."""

    score: np.ndarray
    district: np.ndarray
    allocation: Allocation
    probabilities: bool
    """Whether the scores are calibrated risks (then districts share capacity by their need)."""

    def lists(self, share: float) -> np.ndarray:
        return self.list_of(capacity_count(len(self.score), share))

    def list_of(self, households: int) -> np.ndarray:
        """Membership of the lists holding `households` in all, split among districts."""
        need = self.score if self.probabilities else None
        return capacity_list(self.score, self.district, households, self.allocation, need)

    def subset(self, rows: np.ndarray) -> Ranking:
        """The same ranking of only these rows (a boolean mask): e.g. the not-yet-known."""
        return Ranking(self.score[rows], self.district[rows], self.allocation, self.probabilities)


def rankings(test: pd.DataFrame, scores: dict[str, np.ndarray], allocation: Allocation) -> dict[str, Ranking]:
    district = test["gu"].astype("str").to_numpy()
    return {
        name: Ranking(score, district, allocation, name in SCORERS_WITH_PROBABILITIES)
        for name, score in scores.items()
    }


def compare_lists(
    ranking: Ranking, other: Ranking, survey_positions: np.ndarray, share: float, minimum: int
) -> Comparison:
    """The two lists at the smallest multiple of the capacity where each holds `minimum` survey
    households (the largest tried when none does)."""
    for factor in COMPARISON_SHARES:
        tried = min(share * factor, 0.5)
        member = ranking.lists(tried)
        rival = other.lists(tried)
        enough = min(member[survey_positions].sum(), rival[survey_positions].sum()) >= minimum
        if enough or factor == COMPARISON_SHARES[-1] or tried == 0.5:
            return Comparison(tried, member, rival)
    raise AssertionError("unreachable")


def truth_positives(test: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Each test-round household's `true_positive` in a synthetic city's truth (NaN where the
    truth has no row for it), in the round's order."""
    return test[["household_id"]].join(truth, on="household_id")["true_positive"].to_numpy(dtype=float)


def evaluate_test_round(
    test: pd.DataFrame,
    scores: dict[str, np.ndarray],
    *,
    capacity_share: float,
    min_group_survey_positives: int,
    min_list_survey_households: int,
    min_group_positives: int,
    truth: pd.DataFrame | None,
    seed: int,
    known_window_days: int,
    allocation: Allocation = "need",
    champion: tuple[str, np.ndarray] | None = None,
    comparison_capacities: tuple[float, ...] = COMPARISON_CAPACITIES,
) -> TestRoundEvaluation:
    """Every figure a promotion decision and a reviewer need, for the test round's whole city."""
    ranked = rankings(test, scores, allocation)
    lists = {name: ranking.lists(capacity_share) for name, ranking in ranked.items()}
    result = TestRoundEvaluation(lists=lists)
    census = census_found_for(truth, test["household_id"])
    groups = group_labels(test)
    sample = SurveySample.of(test)
    result.figures.counted(TEST_SURVEY_HOUSEHOLDS, sample.households)
    result.figures.counted(TEST_SURVEY_POSITIVES, sample.positives)
    if sample.households < MIN_EVALUATION_SURVEY_HOUSEHOLDS:
        result.tags["survey_evaluation"] = (
            f"not estimated: the test round's 90-day window has {sample.households} survey-visited "
            f"households (at least {MIN_EVALUATION_SURVEY_HOUSEHOLDS} needed); put the test round "
            "before a screening sweep"
        )
    else:
        _survey_and_census(
            result,
            ranked,
            scores,
            sample,
            census,
            capacity_share,
            min_list_survey_households,
            seed,
            comparison_capacities,
        )
        result.survey_groups = _survey_groups(result, groups, sample, census, min_group_survey_positives)
        if champion is not None:
            compared, tags = champion_comparison(
                test,
                scores["model"],
                champion,
                capacity_share,
                min_list_survey_households,
                truth,
                seed,
                allocation,
                comparison_capacities,
            )
            result.figures.include(compared)
            result.tags.update(tags)
    if truth is not None:
        result.truth_groups = _truth(result, test, ranked, truth, groups, capacity_share, min_group_positives)
    true_positive = truth_positives(test, truth) if truth is not None else None
    surveyed = sample if sample.households >= MIN_EVALUATION_SURVEY_HOUSEHOLDS else None
    result.figures.include(
        discovery_figures(test, ranked, capacity_share, surveyed, true_positive, known_window_days)
    )
    return result


def _columns(lists: dict[str, np.ndarray], risk: np.ndarray, bins: CalibrationBins) -> dict[str, np.ndarray]:
    return {**{f"{name}_list": member for name, member in lists.items()}, "risk": risk, "bin": bins.codes}


def _survey_and_census(
    result: TestRoundEvaluation,
    ranked: dict[str, Ranking],
    scores: dict[str, np.ndarray],
    sample: SurveySample,
    census: np.ndarray | None,
    share: float,
    min_list: int,
    seed: int,
    comparison_capacities: tuple[float, ...],
) -> None:
    figures = result.figures
    bins = CalibrationBins.of(scores["model"])
    columns = _columns(result.lists, scores["model"], bins)
    survey = Sample.survey(sample.found, sample.weight, sample.positions, columns)
    whole = Sample.census(census, columns) if census is not None else None
    for name in result.lists:
        member = survey.columns[f"{name}_list"]
        precision = share_estimate(survey.found, survey.weight, member)
        # Recall: the share of the survey's positives that are on the list.
        recall = share_estimate(member.astype(float), survey.weight * survey.found, survey.found > 0)
        figures.estimated(Figure(name, "survey", "precision_at_capacity"), precision.quoted())
        figures.estimated(Figure(name, "survey", "recall_at_capacity"), recall.quoted())
        if whole is not None:
            figures.measured(
                Figure(name, "census", "precision_at_capacity"),
                exact(list_found_share, whole, (f"{name}_list",)),
            )
            figures.measured(
                Figure(name, "census", "recall_at_capacity"), exact(list_recall, whole, (f"{name}_list",))
            )
    if "rule" in result.lists:
        _against(
            figures,
            "rule",
            ranked["model"],
            ranked["rule"],
            sample,
            census,
            seed,
            share,
            min_list,
            comparison_capacities,
        )
    figures.estimated(
        Figure("model", "survey", "mean_risk_ratio"),
        estimate(mean_risk_ratio, survey, ("risk",), seed).quoted(),
    )
    calibration = calibration_error(bins, survey, seed)
    figures.estimated(Figure("model", "survey", "ece"), calibration.error.quoted())
    figures.measured(Figure("model", "survey", "ece_noise"), calibration.noise)
    curve = calibration.curve
    if whole is not None:
        figures.measured(
            Figure("model", "census", "mean_risk_ratio"), exact(mean_risk_ratio, whole, ("risk",))
        )
        figures.measured(Figure("model", "census", "ece"), census_calibration_error(bins, whole))
        curve["census_found_rate"] = bins.found_rate(whole.found, whole.weight, whole.columns["bin"])
    result.calibration_curve = curve


def _against(
    figures: TestRoundFigures,
    rival: str,
    ranking: Ranking,
    other: Ranking,
    sample: SurveySample,
    census: np.ndarray | None,
    seed: int,
    share: float,
    min_list: int,
    multiples: tuple[float, ...],
) -> None:
    """The model's lists against a rival's, paired on the same survey households: at the smallest
    capacity where both hold `min_list` of them, and across the lists at every multiple."""
    compared = compare_lists(ranking, other, sample.positions, share, min_list)
    _gain(figures, rival, compared, sample, census, seed)
    _curve(figures, rival, ranking, other, sample, census, seed, share, multiples)


def _gain(
    figures: TestRoundFigures,
    rival: str,
    compared: Comparison,
    sample: SurveySample,
    census: np.ndarray | None,
    seed: int,
) -> None:
    """The model's list against a rival's on the same survey households (paired)."""
    columns = {"member": compared.member, "other": compared.other}
    survey = Sample.survey(sample.found, sample.weight, sample.positions, columns)
    pair = ("member", "other")
    for figure, statistic in (("gain", list_gain), ("lift", list_lift)):
        figures.estimated(
            Figure("model", "survey", f"{figure}_over_{rival}"),
            estimate(statistic, survey, pair, seed).quoted(
                share=compared.share, rival_households=int(compared.other[sample.positions].sum())
            ),
        )
        if census is not None:
            figures.measured(
                Figure("model", "census", f"{figure}_over_{rival}"),
                exact(statistic, Sample.census(census, columns), pair),
            )


def curve_lists(
    ranking: Ranking, other: Ranking, share: float, multiples: tuple[float, ...]
) -> tuple[float, dict[str, np.ndarray]]:
    """The two rankings' lists at every multiple of the capacity `share` (at most half the round),
    largest first, as the (member, other) columns estimates.curve_gain pools; and the largest share."""
    shares = sorted({min(share * multiple, 0.5) for multiple in multiples}, reverse=True)
    columns: dict[str, np.ndarray] = {}
    for index, tried in enumerate(shares):
        columns[f"member{index}"] = ranking.lists(tried)
        columns[f"other{index}"] = other.lists(tried)
    return shares[0], columns


def _curve(
    figures: TestRoundFigures,
    rival: str,
    ranking: Ranking,
    other: Ranking,
    sample: SurveySample,
    census: np.ndarray | None,
    seed: int,
    share: float,
    multiples: tuple[float, ...],
) -> None:
    """The model's lists against a rival's at every capacity of `multiples`, pooled and paired
    (estimates.curve_gain): the comparison the gates decide on, resting on the survey households
    of the largest lists."""
    largest, columns = curve_lists(ranking, other, share, multiples)
    pairs = tuple(columns)
    survey = Sample.survey(sample.found, sample.weight, sample.positions, columns)
    figures.estimated(
        Figure("model", "survey", f"curve_gain_over_{rival}"),
        estimate(curve_gain, survey, pairs, seed).quoted(
            share=largest, rival_households=int(columns["other0"][sample.positions].sum())
        ),
    )
    if census is not None:
        figures.measured(
            Figure("model", "census", f"curve_gain_over_{rival}"),
            exact(curve_gain, Sample.census(census, columns), pairs),
        )


def champion_comparison(
    test: pd.DataFrame,
    model: np.ndarray,
    champion: tuple[str, np.ndarray],
    capacity_share: float,
    min_list_survey_households: int,
    truth: pd.DataFrame | None,
    seed: int,
    allocation: Allocation = "need",
    comparison_capacities: tuple[float, ...] = COMPARISON_CAPACITIES,
) -> tuple[TestRoundFigures, dict[str, str]]:
    """The candidate's list against the champion's on the test round's survey households (paired):
    the figures and the tag naming the champion version compared with."""
    version, champion_scores = champion
    sample = SurveySample.of(test)
    ranked = rankings(test, {"model": model, "champion": champion_scores}, allocation)
    figures = TestRoundFigures()
    census = census_found_for(truth, test["household_id"])
    _against(
        figures,
        "champion",
        ranked["model"],
        ranked["champion"],
        sample,
        census,
        seed,
        capacity_share,
        min_list_survey_households,
        comparison_capacities,
    )
    return figures, {"compared_with_champion": version}


def _survey_groups(
    result: TestRoundEvaluation,
    groups: pd.DataFrame,
    sample: SurveySample,
    census: np.ndarray | None,
    minimum: int,
) -> pd.DataFrame:
    tables = []
    for grouping in GROUPINGS:
        codes, labels = pd.factorize(groups[grouping], sort=True)
        columns = {"model_list": result.lists["model"], "codes": codes}
        survey = Sample.survey(sample.found, sample.weight, sample.positions, columns)
        table = group_ratio_estimates(survey, "codes", list(labels), "model_list")
        table.insert(0, "grouping", grouping)
        table["households"] = np.bincount(codes, minlength=len(labels))
        table["judged"] = (grouping in GATED_GROUPINGS) & (table["survey_positives"] >= minimum)
        if census is not None:
            whole = Sample.census(census, columns)
            table["census_recall_ratio"] = group_recall_ratios(
                whole.found, whole.weight, whole.columns["model_list"], whole.columns["codes"], len(labels)
            )
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    judged = table[table["judged"] & table["recall_ratio"].notna()]
    figures = result.figures
    figures.measured(Figure("model", "survey", "groups_judged"), len(judged))
    figures.measured(
        Figure("model", "survey", "groups_not_judged"),
        (table["grouping"].isin(GATED_GROUPINGS) & ~table["judged"]).sum(),
    )
    if not judged.empty:
        lowest = judged.sort_values("recall_ratio").iloc[0]
        figures.estimated(
            Figure("model", "survey", "min_group_recall_ratio"),
            Estimated(
                float(lowest["recall_ratio"]),
                float(lowest["recall_ratio_low"]),
                float(lowest["recall_ratio_high"]),
                None,
            ),
        )
        figures.measured(
            Figure("model", "survey", "group_recall_ratio_high_min"), judged["recall_ratio_high"].min()
        )
        result.tags["lowest_group_recall_survey"] = f"{lowest['grouping']}={lowest['group']}"
    return table


def _truth(
    result: TestRoundEvaluation,
    test: pd.DataFrame,
    ranked: dict[str, Ranking],
    truth: pd.DataFrame,
    groups: pd.DataFrame,
    share: float,
    min_group_positives: int,
) -> pd.DataFrame:
    """Against the true state of every household (synthetic city), with the best possible ranking."""
    joined = test[["household_id"]].join(truth, on="household_id")
    known = joined["true_positive"].notna().to_numpy()
    y = joined["true_positive"].to_numpy()[known].astype(int)
    figures = result.figures
    best = joined["best_possible"].fillna(0).to_numpy()
    every = {
        **ranked,
        "best_possible": Ranking(best, ranked["model"].district, ranked["model"].allocation, True),
    }
    for name, ranking in every.items():
        selected = result.lists[name] if name in result.lists else ranking.lists(share)
        measured = ranking_metrics(y, ranking.score[known], selected[known]).as_dict()
        for measure, value in measured.items():
            # A rule's score is not a probability: no calibration figure for it.
            if ranking.probabilities or measure not in ("ece", "brier"):
                figures.measured(Figure(name, "truth", measure), value)

    def precision(scorer: str) -> float:
        return figures.value(Figure(scorer, "truth", "precision_at_capacity")) or 0.0

    figures.measured(
        Figure("model", "truth", "share_of_best_possible"), precision("model") / precision("best_possible")
    )
    figures.measured(
        Figure("model", "truth", "lift_over_rule"), precision("model") / max(precision("rule"), 1e-9)
    )
    known_groups = groups[known].reset_index(drop=True)
    table = group_metrics(y, result.lists["model"][known], known_groups, expected=best[known])
    worst = _lowest_judged(table, min_group_positives)
    if worst is not None:
        figures.measured(Figure("model", "truth", "min_group_recall_ratio"), worst["expected_recall_ratio"])
        figures.measured(
            Figure("model", "truth", "min_group_realised_recall_ratio"), worst["lowest_realised"]
        )
        result.tags["lowest_group_recall"] = f"{worst['grouping']}={worst['group']}"
    # What the best possible ranking leaves, for the same groups: how much of a low ratio the
    # city's own make-up explains, and how much the model.
    ceiling = group_metrics(y, every["best_possible"].lists(share)[known], known_groups, expected=best[known])
    best_worst = _lowest_judged(ceiling, min_group_positives)
    if best_worst is not None:
        figures.measured(
            Figure("best_possible", "truth", "min_group_recall_ratio"), best_worst["expected_recall_ratio"]
        )
        result.tags["lowest_group_recall_best_possible"] = f"{best_worst['grouping']}={best_worst['group']}"
    others = table[(table["grouping"] == "lives_alone") & (table["group"] == "with others")]
    if not others.empty:
        figures.measured(
            Figure("model", "truth", "with_others_recall_ratio"), others["expected_recall_ratio"].iloc[0]
        )
    return table


def _lowest_judged(table: pd.DataFrame, min_positives: int) -> pd.Series | None:
    """The gated group with the lowest expected recall ratio among those with enough positives;
    `lowest_realised` carries the lowest realised ratio among the same groups."""
    judged = table[table["grouping"].isin(GATED_GROUPINGS) & (table["positives"] >= min_positives)]
    judged = judged.dropna(subset=["expected_recall_ratio"])
    if judged.empty:
        return None
    lowest = judged.sort_values("expected_recall_ratio").iloc[0].copy()
    lowest["lowest_realised"] = judged["recall_ratio"].min()
    return lowest
