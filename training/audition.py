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
2. a candidate ties with the best when it falls short of the best's pooled figure by no more than
   `tolerance` plus `standard_errors` standard errors of the difference (paired: the same survey
   households resampled for every candidate; one is Breiman's one-standard-error rule, two asks
   the survey to show a difference at about 95 % before a later candidate displaces an earlier
   one), and does so in every fold too (stable, not lucky once). A survey that cannot tell two
   candidates apart makes them tie;
3. of those that tie, the first declared is chosen (the grid is declared in the experiment's
   order of preference, which says why: usually the simplest first); when none is stable in every
   fold, the first declared that ties pooled.

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
from training.evaluation import rankings, truth_positives
from training.fitting import LabelledRounds, fit_candidate
from training.metrics import weighted_auc
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
    evidence: SurveyEvidence | None = None
    """Its survey households' figures, for the paired comparison (not written to the tables)."""


@dataclass(frozen=True)
class SurveyEvidence:
    """One candidate's lists on one fold's survey households (the same households, in the same
    order, for every candidate of the fold)."""

    found: np.ndarray
    weight: np.ndarray
    at_capacity: np.ndarray
    """1 where the household is on the list at capacity."""
    curve_hits: np.ndarray
    """On how many of the lists at 1x to 10x capacity the household is."""

    def sums(self, statistic: str, rows: np.ndarray | None = None) -> tuple[float, float]:
        """(found weight, listed weight) of the statistic, on these rows (a resample) or all."""
        hits = self.curve_hits if statistic == "precision_curve" else self.at_capacity
        found, weight, hits = (
            (self.found, self.weight, hits)
            if rows is None
            else (self.found[rows], self.weight[rows], hits[rows])
        )
        return float((found * weight * hits).sum()), float((weight * hits).sum())


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
    evidence: dict[tuple[str, int], SurveyEvidence] | None = None
    """Each candidate's survey households per fold, to weigh the same evidence by another rule."""


def round_days(splits: list[RoundDates]) -> list[pd.Timestamp]:
    """Every round the splits train, validate or test on, once each, in order."""
    return sorted({pd.Timestamp(d) for split in splits for d in (*split.train, split.validation, split.test)})


def rounds_of(table: pd.DataFrame, fold: RoundDates) -> LabelledRounds:
    """One split's rounds out of a table holding (at least) all of them."""
    train_dates = [pd.Timestamp(d) for d in fold.train]

    def of(day) -> pd.DataFrame:
        return table[table["round_date"] == pd.Timestamp(day)].reset_index(drop=True)

    return LabelledRounds(
        # In the split's declared order whatever the table's (the rows' order is LightGBM's input).
        train=pd.concat([table[table["round_date"] == day] for day in train_dates], ignore_index=True),
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
    ranking = rankings(test, {"model": risk}, config.evaluation.allocation)["model"]
    listed = ranking.lists(config.evaluation.capacity_share)
    among = listed[sample.positions]
    precision = share_estimate(sample.found, sample.weight, among)
    curve_found = curve_listed = 0.0
    largest = among
    hits = np.zeros(len(sample.positions), dtype=np.float64)
    for multiple in config.evaluation.comparison_capacities:
        on_list = ranking.lists(min(config.evaluation.capacity_share * multiple, 0.5))[sample.positions]
        hits += on_list
        curve_found += float((sample.found * sample.weight * on_list).sum())
        curve_listed += float((sample.weight * on_list).sum())
        largest = on_list if on_list.sum() > largest.sum() else largest
    truth_precision = float("nan") if truth is None else listed_truth_precision(test, truth, listed)
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
        survey_auc=weighted_auc(sample.found, sample.weight, risk[sample.positions]),
        curve_precision=curve_found / curve_listed if curve_listed else float("nan"),
        curve_found_weight=curve_found,
        curve_listed_weight=curve_listed,
        curve_survey_households=int(largest.sum()),
        truth_precision=truth_precision,
        seconds=time.perf_counter() - started,
        size=fitted.size,
        evidence=SurveyEvidence(sample.found, sample.weight, among.astype(np.float64), hits),
    )


def listed_truth_precision(test: pd.DataFrame, truth: pd.DataFrame, listed: np.ndarray) -> float:
    """The share of a list's households the truth holds isolated (a synthetic city's report only)."""
    true = truth_positives(test, truth)
    return float(np.nanmean(true[listed])) if listed.any() else float("nan")


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
RESAMPLES = 400
"""Paired bootstrap resamples of each fold's survey households, for the differences' errors."""


def _paired_errors(
    evidence: dict[tuple[str, int], SurveyEvidence],
    names: list[str],
    folds: list[int],
    statistic: str,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Resampled pooled and per-fold figures of every candidate, the same households drawn for all:
    (pooled draws [resample, candidate], per-fold draws [resample, fold, candidate])."""
    rng = np.random.default_rng(seed)
    pooled_draws = np.full((RESAMPLES, len(names)), np.nan)
    fold_draws = np.full((RESAMPLES, len(folds), len(names)), np.nan)
    for b in range(RESAMPLES):
        rows = {}
        for fold in folds:
            size = next(len(e.found) for (n, f), e in evidence.items() if f == fold)
            rows[fold] = rng.integers(0, size, size)
        for j, name in enumerate(names):
            found = listed = 0.0
            for k, fold in enumerate(folds):
                own = evidence.get((name, fold))
                if own is None:
                    continue
                f, w = own.sums(statistic, rows[fold])
                found, listed = found + f, listed + w
                fold_draws[b, k, j] = f / w if w else np.nan
            pooled_draws[b, j] = found / listed if listed else np.nan
    return pooled_draws, fold_draws


def choose(
    folds: pd.DataFrame,
    order: list[str],
    tolerance: float,
    statistic: str = "precision_at_capacity",
    evidence: dict[tuple[str, int], SurveyEvidence] | None = None,
    seed: int = 7,
    standard_errors: float = 1.0,
) -> tuple[pd.DataFrame, str, str]:
    """The rule (module docstring) over the per-fold figures and, when given, each candidate's
    survey evidence per fold (for the paired errors; without it, the tolerance alone); returns the
    pooled table, the chosen candidate and the rule's sentence."""
    from training.estimates import wilson  # noqa: PLC0415

    value, found, listed, households_column = STATISTICS[statistic]
    if "refused" not in folds:
        folds = folds.assign(refused="")
    folds = folds.assign(refused=folds["refused"].fillna(""))
    judged = folds.groupby("fold")["refused"].transform(lambda r: (r == "").any())
    folds = folds[judged]
    if folds.empty:
        raise NotEnoughSurvey("no fold of the audition could calibrate any candidate")
    kept = sorted(folds["fold"].unique())
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
    best_at = int(pooled.loc[whole, "pooled"].idxmax())
    best = float(pooled.loc[best_at, "pooled"])
    per_fold = folds.pivot_table(index="candidate", columns="fold", values=value).reindex(order)
    pooled_error = np.zeros(len(order))
    fold_error = np.zeros((len(order), len(kept)))
    if evidence:
        pooled_draws, fold_draws = _paired_errors(evidence, order, kept, statistic, seed)
        with np.errstate(invalid="ignore"):
            pooled_error = np.nanstd(pooled_draws - pooled_draws[:, [best_at]], axis=0)
            fold_best = np.nanargmax(per_fold.to_numpy(), axis=0)
            for k in range(len(kept)):
                fold_error[:, k] = np.nanstd(fold_draws[:, k, :] - fold_draws[:, k, [fold_best[k]]], axis=0)
    pooled["shortfall"] = best - pooled["pooled"]
    pooled["shortfall_error"] = pooled_error
    ties = whole & (pooled["shortfall"] <= tolerance + standard_errors * pooled_error)
    fold_shortfall = per_fold.max(axis=0).to_numpy()[None, :] - per_fold.to_numpy()
    stable_in_folds = (
        np.nan_to_num(fold_shortfall, nan=np.inf) <= tolerance + standard_errors * fold_error
    ).all(axis=1)
    pooled["worst_shortfall"] = np.nanmax(np.where(np.isnan(fold_shortfall), np.inf, fold_shortfall), axis=1)
    stable = ties & stable_in_folds
    pooled["in_contention"] = stable
    label = statistic.replace("_", " ")
    margin = (
        f"plus {_errors_in_words(standard_errors)} of the paired difference"
        if evidence
        else "(no survey errors given)"
    )
    if stable.any():
        chosen = pooled.loc[stable, "candidate"].iloc[0]
        rule = (
            f"{chosen}: the first declared within {tolerance:.2f} {margin} of the best pooled {label} "
            f"({best:.3f}, {pooled.loc[best_at, 'candidate']}), and of the best in every fold"
        )
    else:
        chosen = pooled.loc[ties, "candidate"].iloc[0]
        rule = (
            f"{chosen}: none was within {tolerance:.2f} {margin} of the best in every fold; the first declared "
            f"within it of the best pooled {label} ({best:.3f}, {pooled.loc[best_at, 'candidate']})"
        )
    return pooled, chosen, rule


def _errors_in_words(standard_errors: float) -> str:
    return "one standard error" if standard_errors == 1 else f"{standard_errors:g} standard errors"


def audition(
    data_dir: Path,
    config: ExperimentConfig,
    known_window_days: int,
    truth_of: TruthOf | None = None,
    progress: Callable[[str], None] | None = None,
    table: pd.DataFrame | None = None,
) -> AuditionResult:
    """Every candidate of the experiment's grid on every fold; the choice by the declared rule.
    `table`: the rounds' features when the caller built them already (with every fold's rounds),
    so an audition and the fit that follows it build each round once."""
    plan = config.audition
    if plan is None:
        raise ValueError(f"experiment {config.name} declares no [audition]")
    if table is None:
        table, _ = build_training_set(Path(data_dir), round_days(plan.folds))
    results = []
    for index, fold in enumerate(plan.folds):
        rounds = rounds_of(table, fold)
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
    folds = pd.DataFrame([{k: v for k, v in r.__dict__.items() if k != "evidence"} for r in results])
    evidence = {(r.candidate, r.fold): r.evidence for r in results if r.evidence is not None}
    pooled, chosen, rule = choose(
        folds,
        [c.name for c in plan.candidates],
        plan.tolerance,
        plan.statistic,
        evidence,
        config.seed,
        plan.standard_errors,
    )
    return AuditionResult(folds, pooled, chosen, rule, evidence)
