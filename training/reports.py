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

from training.metrics import calibration_curve, capacity_count, group_metrics, top_k_mask  # noqa: E402

GROUPINGS = {"gu": "district", "age_band": "age band", "head_sex": "sex", "housing_type_name": "housing type"}


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
