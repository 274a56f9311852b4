"""How a ranking is judged by the people who act on it.

A team visits the top of the list up to its capacity, so the measures that matter are precision
and recall *at capacity* (of the lists training/allocation.py builds), the lift over today's rule,
whether a score of 0.3 really means 30 %, and whether any group — district, age band, sex,
housing type, living alone — is served worse than the whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_positive_rate
from sklearn.metrics import average_precision_score, brier_score_loss, recall_score, roc_auc_score


def capacity_count(n_households: int, share: float) -> int:
    """Households a team can visit: a share of those on the list, at least one."""
    return max(1, int(round(n_households * share)))


def top_k_mask(score: np.ndarray, k: int) -> np.ndarray:
    """The k highest scores; ties broken by position so the list is reproducible."""
    order = np.lexsort((np.arange(len(score)), -np.asarray(score, dtype=float)))
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:k]] = True
    return mask


def weighted_auc(found: np.ndarray, weight: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC of a score over survey households, each weighted by the households it stands for;
    NaN when the survey found all or none of them."""
    return (
        float("nan")
        if found.min() == found.max()
        else float(roc_auc_score(found, score, sample_weight=weight))
    )


def precision_recall_at(y_true: np.ndarray, selected: np.ndarray) -> tuple[float, float]:
    y = np.asarray(y_true, dtype=bool)
    hits = int((y & selected).sum())
    precision = hits / max(int(selected.sum()), 1)
    recall = hits / int(y.sum()) if y.any() else float("nan")
    return precision, recall


def expected_calibration_error(y_true: np.ndarray, prob: np.ndarray, bins: int = 20) -> float:
    """ECE over equal-count bins of the predicted probability.

    Equal-width bins put nearly every household of a 3 % outcome into the first bin and say
    nothing about the top of the list, where decisions are made; equal-count bins do not.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    order = np.argsort(p, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            error += len(chunk) * abs(p[chunk].mean() - y[chunk].mean())
    return error / len(p)


def calibration_curve(y_true: np.ndarray, prob: np.ndarray, bins: int = 20) -> pd.DataFrame:
    """Mean predicted versus observed rate per equal-count bin (the calibration plot's points)."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    order = np.argsort(p, kind="stable")
    rows = [
        {"mean_predicted": p[c].mean(), "observed_rate": y[c].mean(), "households": len(c)}
        for c in np.array_split(order, bins)
        if len(c)
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RankingMetrics:
    households: int
    positives: int
    capacity: int
    precision_at_capacity: float
    recall_at_capacity: float
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float

    def as_dict(self) -> dict[str, float]:
        return {measure: float(value) for measure, value in self.__dict__.items()}


def ranking_metrics(y_true: np.ndarray, prob: np.ndarray, selected: np.ndarray) -> RankingMetrics:
    """Every headline measure of one scored round against its outcomes, for the lists `selected`."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(prob, dtype=float)
    precision, recall = precision_recall_at(y, selected)
    both = 0 < y.sum() < len(y)
    return RankingMetrics(
        households=len(y),
        positives=int(y.sum()),
        capacity=int(np.asarray(selected).sum()),
        precision_at_capacity=precision,
        recall_at_capacity=recall,
        roc_auc=roc_auc_score(y, p) if both else float("nan"),
        pr_auc=average_precision_score(y, p) if both else float("nan"),
        brier=brier_score_loss(y, np.clip(p, 0, 1)),
        ece=expected_calibration_error(y, p),
    )


def _positives(y_true, y_pred) -> int:
    return int(np.sum(y_true))


def _recall(y_true, y_pred) -> float:
    return recall_score(y_true, y_pred, zero_division=np.nan)


def _weighted_share(y_true, y_pred, sample_weight) -> float:
    total = float(np.sum(sample_weight))
    return float(np.sum(sample_weight * y_pred)) / total if total > 0 else float("nan")


def group_metrics(
    y_true: np.ndarray, selected: np.ndarray, groups: pd.DataFrame, expected: np.ndarray | None = None
) -> pd.DataFrame:
    """Recall at capacity and false-positive rate per group, with their ratio to the whole city.

    `groups` has one column per grouping (district, age band, …); the result has one row per
    (grouping, group). A recall ratio well below 1 means that group's isolated households are
    missed more often than others'. With `expected` (each household's probability of being a
    positive, known for a synthetic city), the expected recall too: the same ratio without the
    luck of which households happened to turn positive, which in a group of a hundred positives
    moves a realised ratio by ±0.2.
    """
    y = np.asarray(y_true, dtype=int)
    chosen = np.asarray(selected, dtype=int)
    metrics = {
        "households": count,
        "positives": _positives,
        "recall_at_capacity": _recall,
        "false_positive_rate": false_positive_rate,
    }
    sample_params = None
    if expected is not None:
        metrics["expected_recall_at_capacity"] = _weighted_share
        sample_params = {"expected_recall_at_capacity": {"sample_weight": np.asarray(expected, dtype=float)}}
    tables = []
    for grouping in groups.columns:
        frame = MetricFrame(
            metrics=metrics,
            y_true=y,
            y_pred=chosen,
            sensitive_features=groups[grouping].astype("str").fillna("unknown").rename("group"),
            sample_params=sample_params,
        )
        table = frame.by_group.reset_index()
        overall = frame.overall
        for measure, ratio in (
            ("recall_at_capacity", "recall_ratio"),
            ("false_positive_rate", "fpr_ratio"),
            ("expected_recall_at_capacity", "expected_recall_ratio"),
        ):
            if measure in table:
                table[ratio] = table[measure] / (overall[measure] or np.nan)
        table.insert(0, "grouping", grouping)
        tables.append(table)
    columns = [
        "grouping",
        "group",
        "households",
        "positives",
        "recall_at_capacity",
        "recall_ratio",
        "false_positive_rate",
        "fpr_ratio",
    ]
    if expected is not None:
        columns += ["expected_recall_at_capacity", "expected_recall_ratio"]
    return pd.concat(tables, ignore_index=True).astype({"households": int, "positives": int})[columns]
