"""Platt calibration folded into the LightGBM booster itself.

A calibrator kept beside the model would mean two objects to log, load and keep in step, and
SHAP values explaining the uncalibrated score. Sigmoid calibration is affine in the booster's raw
score (p = sigmoid(a * raw + b)), so it can be written into the trees: every leaf value is scaled
by `a` and `b` is added to the leaves of the first tree. The result is an ordinary booster whose
`predict` is the calibrated probability and whose `pred_contrib` (= shap's TreeExplainer without
background data) explains exactly that probability's log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class PlattScaling:
    slope: float
    intercept: float

    @classmethod
    def fit(cls, raw_score: np.ndarray, label: np.ndarray, weight: np.ndarray | None = None) -> PlattScaling:
        """Fit p = sigmoid(slope * raw + intercept) by (nearly unpenalised) logistic regression."""
        model = LogisticRegression(C=1e6, max_iter=1000)
        model.fit(
            np.asarray(raw_score, dtype=float).reshape(-1, 1),
            np.asarray(label, dtype=int),
            sample_weight=weight,
        )
        return cls(slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))


def fold_into_booster(booster: lgb.Booster, scaling: PlattScaling) -> lgb.Booster:
    """A booster whose raw score is `slope * raw + intercept` of the given one."""
    lines: list[str] = []
    first_tree = True
    for line in booster.model_to_string(num_iteration=booster.best_iteration or None).splitlines():
        if line.startswith("tree_sizes="):
            continue  # byte offsets of the trees; the edited text no longer matches them
        if line.startswith("leaf_value="):
            values = np.array(line.removeprefix("leaf_value=").split(), dtype=float) * scaling.slope
            if first_tree:
                values += scaling.intercept
                first_tree = False
            line = "leaf_value=" + " ".join(repr(float(v)) for v in values)
        lines.append(line)
    return lgb.Booster(model_str="\n".join(lines) + "\n")
