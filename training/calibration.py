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
from scipy.optimize import minimize
from scipy.special import expit
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

    def slope_standard_error(self, raw_score: np.ndarray, weight: np.ndarray | None = None) -> float:
        """Standard error of the fitted slope, from the logistic likelihood's information matrix."""
        x = np.asarray(raw_score, dtype=float)
        w = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=float)
        p = expit(self.slope * x + self.intercept)
        v = w * p * (1 - p)
        information = np.array([[v.sum(), (v * x).sum()], [(v * x).sum(), (v * x * x).sum()]])
        try:
            return float(np.sqrt(np.linalg.inv(information)[1, 1]))
        except np.linalg.LinAlgError:
            return float("inf")


@dataclass(frozen=True)
class VisitNoiseScaling:
    """Platt scaling for the household's true state, fitted through what visits record.

    A visit is an imperfect measurement: it records "isolated or at risk" for some households that
    are fine (`false_positive_rate`) and misses some that are not (`sensitivity` < 1: refusals,
    nobody at home, a quiet household marked fine). Fitting Platt scaling to visit outcomes
    therefore calibrates to *what a visit will record*, which overstates risk for the many
    low-risk households by about the false-positive rate. Here the true probability is
    `sigmoid(slope * raw + intercept)` and a visit finds a positive with probability
    `false_positive_rate + (sensitivity - false_positive_rate) * true probability`; all four are
    fitted together by maximum likelihood. The served score is the true-state probability, still
    affine in the raw score, so it folds into the trees like plain Platt scaling.
    """

    scaling: PlattScaling
    sensitivity: float
    false_positive_rate: float

    @classmethod
    def fit(cls, raw_score: np.ndarray, label: np.ndarray) -> VisitNoiseScaling:
        raw = np.asarray(raw_score, dtype=float)
        found = np.asarray(label, dtype=float)

        def negative_log_likelihood(theta: np.ndarray) -> float:
            slope, intercept, logit_sensitivity, logit_false_positive = theta
            high, low = expit(logit_sensitivity), expit(logit_false_positive)
            p = np.clip(low + (high - low) * expit(slope * raw + intercept), 1e-12, 1 - 1e-12)
            return float(-(found * np.log(p) + (1 - found) * np.log1p(-p)).sum())

        start = PlattScaling.fit(raw, found.astype(int))
        best = None
        # The likelihood has flat ridges (sensitivity trades against the intercept); a few starts
        # from plausible visit error rates keep the fit away from a poor local optimum.
        for logit_sensitivity in (0.0, 1.5):
            for logit_false_positive in (-4.0, -2.5):
                result = minimize(
                    negative_log_likelihood,
                    np.array([start.slope, start.intercept, logit_sensitivity, logit_false_positive]),
                    method="Nelder-Mead",
                    options={"maxiter": 40_000, "xatol": 1e-7, "fatol": 1e-9},
                )
                if best is None or result.fun < best.fun:
                    best = result
        assert best is not None
        slope, intercept, logit_sensitivity, logit_false_positive = best.x
        return cls(
            PlattScaling(float(slope), float(intercept)),
            sensitivity=float(expit(logit_sensitivity)),
            false_positive_rate=float(expit(logit_false_positive)),
        )


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
