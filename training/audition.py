"""Which model a city serves is chosen by its own evidence (the "audition" of dssg/triage).

Which family ranks the top of a list best changes from city to city, so none is fixed. Each
candidate of a small declared grid is trained, calibrated and judged exactly as the served model
would be, on several earlier splits of the city's own rounds (each a train / validation / test),
and judged from survey visits alone: the weighted share found among the survey households on its
lists at capacity (precision at capacity); the same share over the lists at each of the
experiment's comparison capacities, 1× to 10× the team's (`precision_curve`: a 1 % list of a
thinly surveyed city holds a handful of survey households, the lists up to ten times as many, the
gates' own evidence); and the weighted ROC-AUC over every survey household of the round. The rule,
declared in the experiment (`statistic`, `tolerance`):

1. pool each candidate's statistic over the folds (weighted survey households found among those
   listed, over all folds), with a Wilson interval;
2. a candidate is in contention when its pooled precision is within `tolerance` of the best and,
   in every fold, within `tolerance` of that fold's best (stable, not lucky once);
3. of those in contention, the simplest (the grid is declared simplest first) is chosen; when none
   is stable, the simplest within `tolerance` of the best pooled.

A candidate whose calibration the fold's survey cannot support (training/fitting.py refuses a slope
it cannot tell from zero) is refused on that fold, said so, and is not in contention (the best is
taken among those judged on every fold): it could not have been served from that evidence. A fold that refuses every candidate says nothing and is left
out of the pooling.

For a synthetic city, the truth's precision is reported beside every figure and never read by the
rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.round_table import build_training_set
from training.config import AuditionCandidate, ExperimentConfig, RoundDates
from training.estimates import share_estimate
from training.evaluation import Ranking
from training.fitting import LabelledRounds, fit_candidate
from training.survey import NotEnoughSurvey, SurveySample

TruthOf = Callable[[pd.Timestamp, pd.DataFrame], pd.DataFrame | None]
"""A synthetic city's truth of a test round (train.py: round truth by its survey visit days)."""


@dataclass(frozen=True)
class FoldResult:
    candidate: str
    fold: int
    test_round: str
    precision: float
    precision_low: float
    precision_high: float
    listed_survey_households: int
    found_weight: float
    """Weighted survey households found among those listed (for pooling over folds)."""
    listed_weight: float
    survey_auc: float
    curve_precision: float
    """Found among the survey households listed, pooled over the lists at 1× to 10× capacity."""
    curve_found_weight: float
    curve_listed_weight: float
    curve_survey_households: int
    """Survey households on the largest of those lists."""
    truth_precision: float
    """Against the truth, for a synthetic city (NaN otherwise): reported, never used to choose."""
    seconds: float
    size: str
    refused: str = ""
    """Why the candidate could not be calibrated on this fold (then its figures are NaN)."""


@dataclass(frozen=True)
class AuditionResult:
    folds: pd.DataFrame
    """One row per candidate and fold (FoldResult's fields)."""
    pooled: pd.DataFrame
    """One row per candidate, in the grid's order: pooled precision with its interval, the worst
    fold's shortfall from that fold's best, mean survey AUC, mean truth precision, contention."""
    chosen: str
    rule: str
    """The rule as it decided, in one sentence."""


def _rounds(table: pd.DataFrame, fold: RoundDates) -> LabelledRounds:
    train_dates = [pd.Timestamp(d) for d in fold.train]

    def of(day) -> pd.DataFrame:
        return table[table["round_date"] == pd.Timestamp(day)].reset_index(drop=True)

    return LabelledRounds(
        train=table[table["round_date"].isin(train_dates)].reset_index(drop=True),
        validation=of(fold.validation),
        test=of(fold.test),
    )


def judge(
    candidate: AuditionCandidate,
    config: ExperimentConfig,
    fold_index: int,
    fold: RoundDates,
    rounds: LabelledRounds,
    known_window_days: int,
    truth: pd.DataFrame | None,
) -> FoldResult:
    """One candidate trained on one fold and judged on its test round's survey visits."""
    started = time.perf_counter()
    try:
        fitted = fit_candidate(candidate.applied(config, fold), rounds, known_window_days)
    except NotEnoughSurvey as error:
        nan = float("nan")
        return FoldResult(
            candidate=candidate.name,
            fold=fold_index + 1,
            test_round=str(fold.test),
            precision=nan,
            precision_low=nan,
            precision_high=nan,
            listed_survey_households=0,
            found_weight=0.0,
            listed_weight=0.0,
            survey_auc=nan,
            curve_precision=nan,
            curve_found_weight=0.0,
            curve_listed_weight=0.0,
            curve_survey_households=0,
            truth_precision=nan,
            seconds=time.perf_counter() - started,
            size="",
            refused=str(error),
        )
    test = rounds.test
    risk = fitted.predict(test)
    sample = SurveySample.of(test)
    if len(sample.positions) == 0:
        raise NotEnoughSurvey(
            f"audition fold {fold_index + 1}: the test round {fold.test} has no survey visits"
        )
    ranking = Ranking(risk, test["gu"].astype("str").to_numpy(), config.evaluation.allocation, True)
    listed = ranking.lists(config.evaluation.capacity_share)
    among = listed[sample.positions]
    precision = share_estimate(sample.found, sample.weight, among)
    curve_found = curve_listed = 0.0
    largest = among
    for multiple in config.evaluation.comparison_capacities:
        on_list = ranking.lists(min(config.evaluation.capacity_share * multiple, 0.5))[sample.positions]
        curve_found += float((sample.found * sample.weight * on_list).sum())
        curve_listed += float((sample.weight * on_list).sum())
        largest = on_list if on_list.sum() > largest.sum() else largest
    truth_precision = float("nan")
    if truth is not None:
        true = test[["household_id"]].join(truth, on="household_id")["true_positive"].to_numpy(dtype=float)
        truth_precision = float(np.nanmean(true[listed])) if listed.any() else float("nan")
    return FoldResult(
        candidate=candidate.name,
        fold=fold_index + 1,
        test_round=str(fold.test),
        precision=precision.value,
        precision_low=precision.low,
        precision_high=precision.high,
        listed_survey_households=int(among.sum()),
        found_weight=float((sample.found * sample.weight * among).sum()),
        listed_weight=float((sample.weight * among).sum()),
        survey_auc=_weighted_auc(sample.found, sample.weight, risk[sample.positions]),
        curve_precision=curve_found / curve_listed if curve_listed else float("nan"),
        curve_found_weight=curve_found,
        curve_listed_weight=curve_listed,
        curve_survey_households=int(largest.sum()),
        truth_precision=truth_precision,
        seconds=time.perf_counter() - started,
        size=fitted.size,
    )


def _weighted_auc(found: np.ndarray, weight: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    return (
        float("nan")
        if found.min() == found.max()
        else float(roc_auc_score(found, score, sample_weight=weight))
    )


STATISTICS = {
    "precision_at_capacity": ("precision", "found_weight", "listed_weight", "listed_survey_households"),
    "precision_curve": (
        "curve_precision",
        "curve_found_weight",
        "curve_listed_weight",
        "curve_survey_households",
    ),
}
"""A statistic the rule may be declared on: (per-fold value, found weight, listed weight, households)."""


def choose(
    folds: pd.DataFrame, order: list[str], tolerance: float, statistic: str = "precision_at_capacity"
) -> tuple[pd.DataFrame, str, str]:
    """The rule (module docstring) over the per-fold figures; returns the pooled table, the chosen
    candidate and the rule's sentence."""
    from training.estimates import wilson  # noqa: PLC0415

    value, found, listed, households_column = STATISTICS[statistic]
    if "refused" not in folds:
        folds = folds.assign(refused="")
    folds = folds.assign(refused=folds["refused"].fillna(""))
    judged = folds.groupby("fold")["refused"].transform(lambda r: (r == "").any())
    folds = folds[judged]
    if folds.empty:
        raise NotEnoughSurvey("no fold of the audition could calibrate any candidate")
    best_in_fold = folds.groupby("fold")[value].transform("max")
    folds = folds.assign(shortfall=(best_in_fold - folds[value]).fillna(np.inf))
    rows = []
    for name in order:
        own = folds[folds["candidate"] == name]
        refused = int((own["refused"] != "").sum())
        pooled = own[found].sum() / own[listed].sum() if own[listed].sum() else float("nan")
        households = int(own[households_column].sum())
        low, high = wilson(pooled, households) if households else (float("nan"), float("nan"))
        at_capacity = own["listed_weight"].sum()
        rows.append(
            {
                "candidate": name,
                "statistic": statistic,
                "pooled": pooled,
                "pooled_low": low,
                "pooled_high": high,
                "survey_households": households,
                "pooled_precision_at_capacity": own["found_weight"].sum() / at_capacity
                if at_capacity
                else float("nan"),
                "worst_shortfall": float(own["shortfall"].max()),
                "mean_survey_auc": float(own["survey_auc"].mean()),
                "mean_truth_precision": float(own["truth_precision"].mean()),
                "size": next((size for size in own["size"] if size), ""),
                "seconds": float(own["seconds"].sum()),
                "refused_folds": refused,
            }
        )
    pooled = pd.DataFrame(rows)
    # Judged on every fold the audition kept; only when every candidate was refused somewhere
    # are the refused ones weighed too.
    whole = pooled["refused_folds"] == 0
    if not whole.any():
        whole = pooled["pooled"].notna()
    best = pooled.loc[whole, "pooled"].max()
    near = whole & (pooled["pooled"] >= best - tolerance)
    stable = near & (pooled["worst_shortfall"] <= tolerance)
    pooled["in_contention"] = stable
    label = statistic.replace("_", " ")
    if stable.any():
        chosen = pooled.loc[stable, "candidate"].iloc[0]
        rule = (
            f"{chosen}: the simplest of those within {tolerance:.2f} of the best pooled {label} "
            f"({best:.3f}) and of the best in every fold"
        )
    else:
        chosen = pooled.loc[near, "candidate"].iloc[0]
        rule = (
            f"{chosen}: no candidate was within {tolerance:.2f} of the best in every fold; the simplest "
            f"within {tolerance:.2f} of the best pooled {label} ({best:.3f})"
        )
    return pooled, chosen, rule


def audition(
    data_dir: Path,
    config: ExperimentConfig,
    known_window_days: int,
    truth_of: TruthOf | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditionResult:
    """Every candidate of the experiment's grid on every fold; the choice by the declared rule."""
    plan = config.audition
    if plan is None:
        raise ValueError(f"experiment {config.name} declares no [audition]")
    days = sorted({pd.Timestamp(d) for fold in plan.folds for d in (*fold.train, fold.validation, fold.test)})
    table, _ = build_training_set(Path(data_dir), days)
    results = []
    for index, fold in enumerate(plan.folds):
        rounds = _rounds(table, fold)
        truth = truth_of(pd.Timestamp(fold.test), rounds.test) if truth_of else None
        for candidate in plan.candidates:
            result = judge(candidate, config, index, fold, rounds, known_window_days, truth)
            results.append(result)
            if progress and result.refused:
                progress(
                    f"audition fold {index + 1} ({fold.test}): {candidate.name} refused: {result.refused}"
                )
            elif progress:
                progress(
                    f"audition fold {index + 1} ({fold.test}): {candidate.name} precision at capacity "
                    f"{result.precision:.3f} on {result.listed_survey_households} survey households, "
                    f"to 10× {result.curve_precision:.3f} on {result.curve_survey_households}, "
                    f"survey AUC {result.survey_auc:.3f} ({result.seconds:.0f} s)"
                )
    folds = pd.DataFrame([r.__dict__ for r in results])
    pooled, chosen, rule = choose(folds, [c.name for c in plan.candidates], plan.tolerance, plan.statistic)
    return AuditionResult(folds, pooled, chosen, rule)
