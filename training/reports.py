"""Pictures and tables a data scientist looks at before trusting a model, saved as run artifacts.

Each function takes the test round's scores and outcomes and writes one file; the training run
logs them. Figures use matplotlib's non-interactive backend: runs happen on servers.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.reference import districts  # noqa: E402
from training.metrics import calibration_curve, capacity_count, group_metrics, top_k_mask  # noqa: E402

GROUPINGS = {
    "gu": "district",
    "age_band": "age band",
    "head_sex": "sex",
    "housing_type_name": "housing type",
    "lives_alone": "living alone",
}
_ROMANISED = dict(zip(districts()["gu"], districts()["gu_en"], strict=True))
GATED_GROUPINGS = ("gu", "age_band", "head_sex", "housing_type_name")
"""The groupings DOMAIN.md asks fairness across. Living alone is reported too, but it is the risk
the programme targets (one-person households), so a lower recall for households living with
others is expected and shown rather than gated."""


def precision_at_capacity_curve(y: np.ndarray, scores: dict[str, np.ndarray], out: Path) -> Path:
    """Precision as the team visits more of the list, for the model and its baselines."""
    shares = np.linspace(0.002, 0.05, 25)
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, score in scores.items():
        precision = [y[top_k_mask(score, capacity_count(len(y), s))].mean() for s in shares]
        axis.plot(shares * 100, precision, label=name)
    axis.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    axis.set(
        xlabel="households visited (% of the round)",
        ylabel="share found isolated or at risk",
        title="Precision at capacity, test round",
    )
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def calibration_plot(y: np.ndarray, probability: np.ndarray, out: Path) -> Path:
    """Predicted probability against the observed rate, in equal-count bins."""
    curve = calibration_curve(y, probability)
    figure, axis = plt.subplots(figsize=(5, 5))
    top = max(curve["mean_predicted"].max(), curve["observed_rate"].max()) * 1.05
    axis.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
    axis.plot(curve["mean_predicted"], curve["observed_rate"], marker="o")
    axis.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration, test round")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def fairness_table(y: np.ndarray, selected: np.ndarray, test: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Recall at capacity and false-positive rate per group, with ratios to the whole city."""
    groups = test[list(GROUPINGS)].assign(
        lives_alone=np.where(test["lives_alone"] == 1, "alone", "with others")
    )
    table = group_metrics(y, selected, groups)
    table.to_csv(out, index=False)
    return table


def lowest_gated_group(table: pd.DataFrame, min_positives: int) -> pd.Series | None:
    """The gated group with the lowest recall ratio among groups with enough positives to judge."""
    judged = table[table["grouping"].isin(GATED_GROUPINGS) & (table["positives"] >= min_positives)]
    judged = judged.dropna(subset=["recall_ratio"])
    return None if judged.empty else judged.sort_values("recall_ratio").iloc[0]


def fairness_chart(table: pd.DataFrame, min_positives: int, out: Path) -> Path:
    """Recall ratio per group, one panel per grouping; groups too small to judge drawn hollow."""
    groupings = [g for g in GROUPINGS if g in set(table["grouping"])]
    heights = [max(2.0, 0.22 * (table["grouping"] == g).sum() + 0.8) for g in groupings]
    figure, axes = plt.subplots(
        len(groupings), 1, figsize=(7, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    for axis, grouping in zip(np.atleast_1d(axes), groupings, strict=True):
        rows = table[table["grouping"] == grouping].reset_index(drop=True)
        judged = rows["positives"] >= min_positives
        ratio = rows["recall_ratio"].fillna(0.0)
        axis.barh(rows.index[judged], ratio[judged], color="tab:blue")
        axis.barh(rows.index[~judged], ratio[~judged], color="white", edgecolor="tab:blue", hatch="//")
        # Romanised district names: servers rarely have a Hangul font; the CSV keeps the Korean.
        labels = rows["group"].astype(str).map(lambda g: _ROMANISED.get(g, g))
        axis.set_yticks(rows.index, labels, fontsize=7)
        axis.axvline(1.0, color="grey", linestyle=":", linewidth=1)
        axis.set_title(f"{GROUPINGS[grouping]}: recall at capacity ÷ whole city", fontsize=9)
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def feature_importance(booster, out_csv: Path, out_png: Path, top: int = 25) -> pd.DataFrame:
    """Total gain and split count per feature; the chart shows the features that carry the model."""
    table = (
        pd.DataFrame(
            {
                "feature": booster.feature_name(),
                "gain": booster.feature_importance("gain"),
                "splits": booster.feature_importance("split"),
            }
        )
        .sort_values("gain", ascending=False, ignore_index=True)
        .assign(gain_share=lambda t: t["gain"] / max(t["gain"].sum(), 1e-12))
    )
    table.to_csv(out_csv, index=False)
    shown = table.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.25 * len(shown) + 1))
    axis.barh(shown["feature"], shown["gain_share"])
    axis.set(xlabel="share of total gain", title="Feature importance (gain)")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(out_png, dpi=110)
    plt.close(figure)
    return table


def shap_summary(booster, features: pd.DataFrame, out: Path, sample: int = 3_000, seed: int = 7) -> Path:
    """SHAP summary (beeswarm) of the calibrated model on a sample of the test round.

    LightGBM's own pred_contrib gives exactly shap.TreeExplainer's values without background data,
    and it is what serving uses for reasons, so the picture and the reasons agree.
    """
    import shap  # noqa: PLC0415  (heavy; only needed here)

    rows = features.sample(min(sample, len(features)), random_state=seed)
    contributions = booster.predict(rows, pred_contrib=True)[:, :-1]
    shap.summary_plot(
        contributions, rows.astype("float64"), feature_names=list(rows.columns), max_display=20, show=False
    )
    figure = plt.gcf()
    figure.set_size_inches(8, 8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
