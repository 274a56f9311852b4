"""Pictures and tables a data scientist looks at before trusting a model, saved as run artifacts.

Each function takes the test round's scores and outcomes and writes one file; the training run
logs them. Figures use matplotlib's non-interactive backend: runs happen on servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.reference import districts  # noqa: E402
from serving.scoring.households import feature_matrix  # noqa: E402
from training.evaluation import GROUPINGS  # noqa: E402

_ROMANISED = dict(zip(districts()["gu"], districts()["gu_en"], strict=True))


def precision_at_capacity_curve(
    found: np.ndarray, weight: np.ndarray, positions: np.ndarray, rankings: dict, out: Path
) -> Path:
    """Share a visit finds isolated or at risk as the teams visit more of their lists, for the
    model and its baselines, estimated from the survey households on each list."""
    shares = np.linspace(0.005, 0.10, 20)
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, ranking in rankings.items():
        found_share = []
        for share in shares:
            on_list = ranking.lists(share)[positions]
            total = (weight * on_list).sum()
            found_share.append((weight * found * on_list).sum() / total if total else np.nan)
        axis.plot(shares * 100, found_share, label=name, marker=".")
    axis.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    return _saved(
        figure,
        axis,
        out,
        xlabel="households visited (% of the round)",
        ylabel="share a visit finds isolated or at risk",
        title="Precision at capacity, test round (survey households on each list)",
    )


def _saved(figure, axis, out: Path, **labels: str) -> Path:
    """A chart's axes named, its legend drawn, written to `out` and closed."""
    axis.set(**labels)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def calibration_plot(curve: pd.DataFrame, out: Path) -> Path:
    """Mean served risk per decile of the city against what survey visits found there (90 %
    intervals), and what a visit to every household would find when the city is synthetic."""
    figure, axis = plt.subplots(figsize=(5, 5))
    top = float(np.nanmax(curve[["mean_risk", "found_rate_high"]].to_numpy())) * 1.05
    axis.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
    errors = np.vstack(
        [curve["found_rate"] - curve["found_rate_low"], curve["found_rate_high"] - curve["found_rate"]]
    )
    axis.errorbar(
        curve["mean_risk"],
        curve["found_rate"],
        yerr=np.nan_to_num(errors),
        marker="o",
        capsize=3,
        label="survey",
    )
    if "census_found_rate" in curve:
        axis.plot(
            curve["mean_risk"], curve["census_found_rate"], marker="x", linestyle="--", label="census (truth)"
        )
    return _saved(
        figure,
        axis,
        out,
        xlabel="mean served risk (decile of the city)",
        ylabel="share a visit found isolated or at risk",
        title="Calibration, test round",
    )


def _group_panels(table: pd.DataFrame) -> tuple[list[str], list[float]]:
    groupings = [g for g in GROUPINGS if g in set(table["grouping"])]
    heights = [max(2.0, 0.22 * (table["grouping"] == g).sum() + 0.8) for g in groupings]
    return groupings, heights


def _group_axis(axis, rows: pd.DataFrame, grouping: str, title: str) -> None:
    labels = rows["group"].astype(str).map(lambda g: _ROMANISED.get(g, g))
    # Romanised district names: servers rarely have a Hangul font; the CSV keeps the Korean.
    axis.set_yticks(rows.index, labels, fontsize=7)
    axis.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    axis.set_title(f"{GROUPINGS[grouping]}: {title}", fontsize=9)
    axis.invert_yaxis()


def fairness_chart(table: pd.DataFrame, min_positives: int, out: Path) -> Path:
    """Recall ratio per group against the truth; groups too small to judge drawn hollow."""
    groupings, heights = _group_panels(table)
    figure, axes = plt.subplots(
        len(groupings), 1, figsize=(7, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    for axis, grouping in zip(np.atleast_1d(axes), groupings, strict=True):
        rows = table[table["grouping"] == grouping].reset_index(drop=True)
        judged = rows["positives"] >= min_positives
        ratio = rows["recall_ratio"].fillna(0.0)
        axis.barh(rows.index[judged], ratio[judged], color="tab:blue")
        axis.barh(rows.index[~judged], ratio[~judged], color="white", edgecolor="tab:blue", hatch="//")
        _group_axis(axis, rows, grouping, "recall at capacity ÷ whole city (truth)")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def survey_fairness_chart(table: pd.DataFrame, out: Path) -> Path:
    """Recall ratio per group from the survey with its 90 % interval; groups the survey cannot
    judge (too few positives) drawn hollow."""
    groupings, heights = _group_panels(table)
    figure, axes = plt.subplots(
        len(groupings), 1, figsize=(7, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    for axis, grouping in zip(np.atleast_1d(axes), groupings, strict=True):
        rows = table[table["grouping"] == grouping].reset_index(drop=True)
        judged = rows["judged"].to_numpy(dtype=bool)
        ratio = rows["recall_ratio"].fillna(0.0)
        errors = np.vstack(
            [ratio - rows["recall_ratio_low"].fillna(0.0), rows["recall_ratio_high"].fillna(0.0) - ratio]
        ).clip(min=0)
        axis.barh(rows.index[judged], ratio[judged], xerr=errors[:, judged], color="tab:blue", capsize=2)
        axis.barh(rows.index[~judged], ratio[~judged], color="white", edgecolor="tab:blue", hatch="//")
        if "census_recall_ratio" in rows:
            axis.plot(rows["census_recall_ratio"], rows.index, "kx", markersize=4)
        _group_axis(axis, rows, grouping, "recall at capacity ÷ whole city (survey, 90 %)")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


@dataclass(frozen=True)
class ExplainedSample:
    """A sample of the test round with the served model's exact contributions (base value left
    out): what the importance table and the SHAP summary both show, computed once."""

    rows: pd.DataFrame
    contributions: np.ndarray


def explained_sample(model, features: pd.DataFrame, sample: int = 3_000, seed: int = 7) -> ExplainedSample:
    rows = features.sample(min(sample, len(features)), random_state=seed)
    return ExplainedSample(rows, model.contributions(feature_matrix(rows, list(rows.columns)))[:, :-1])


def feature_importance(
    model, explained: ExplainedSample, out_csv: Path, out_png: Path, top: int = 25
) -> pd.DataFrame:
    """What carries the model: a tree model's total gain and split count per feature; for any
    family, the mean absolute contribution to the log-odds on the sample (the measure the reasons
    are chosen by). The chart shows the family's own measure."""
    table = pd.DataFrame(
        {
            "feature": list(explained.rows.columns),
            "mean_abs_contribution": np.abs(explained.contributions).mean(axis=0),
        }
    )
    booster = getattr(model, "booster", None)
    if booster is not None:
        table["gain"] = booster.feature_importance("gain")
        table["splits"] = booster.feature_importance("split")
        measure, label = "gain", "share of total gain"
    else:
        measure, label = "mean_abs_contribution", "share of mean |contribution| to the log-odds"
    table = table.sort_values(measure, ascending=False, ignore_index=True)
    table["share"] = table[measure] / max(table[measure].sum(), 1e-12)
    if booster is not None:
        table["gain_share"] = table["share"]
    table.to_csv(out_csv, index=False)
    shown = table.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.25 * len(shown) + 1))
    axis.barh(shown["feature"], shown["share"])
    axis.set(xlabel=label, title=f"Feature importance ({measure.replace('_', ' ')})")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(out_png, dpi=110)
    plt.close(figure)
    return table


def shap_summary(explained: ExplainedSample, out: Path) -> Path:
    """SHAP summary (beeswarm) of the calibrated model on a sample of the test round.

    The contributions are the served model's own exact ones (for trees, LightGBM's pred_contrib,
    which equals shap.TreeExplainer's values without background data), the very ones serving
    chooses reasons from, so the picture and the reasons agree.
    """
    import shap  # noqa: PLC0415  (heavy; only needed here)

    rows = explained.rows
    shap.summary_plot(
        explained.contributions,
        rows.astype("float64"),
        feature_names=list(rows.columns),
        max_display=20,
        show=False,
    )
    figure = plt.gcf()
    figure.set_size_inches(8, 8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
