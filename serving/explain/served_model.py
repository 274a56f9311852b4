"""What the service needs of a model, whatever its family: the calibrated probability, each
feature's exact contribution to the served log-odds (with the base value last, as LightGBM's
pred_contrib lays them out), its features, and a text that rebuilds it anywhere (a Spark executor,
a Bento). Scoring, reasons, the health check, Spark and the Bento read a model only through this,
so a family is served only when it can say all of it exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import lightgbm as lgb
import numpy as np
from scipy.special import expit

from serving.explain.linear import FAMILY as FAMILY_LINEAR
from serving.explain.linear import LinearScore
from serving.explain.tree_model import refusal_of
from serving.explain.tree_shap import PathExplainer

FAST_PREDICT_FROM = 100_000
"""Rows from which TreeModel.predict reads the explainer's raw scores instead of LightGBM's walk: a
batch worth building the explainer for, if the service has not already."""

FAMILY_LINEAR_PLUS_TREES = "logistic_plus_trees"
FAMILY_LINEAR_AND_TREES = "logistic_and_trees"
"""Served as a sum too: each part carries its share of the mean, its raw score times half its slope
on the validation round's outcomes (training/families.py)."""


@runtime_checkable
class ServedModel(Protocol):
    family: str

    @property
    def features(self) -> list[str]: ...

    def predict(self, values: np.ndarray) -> np.ndarray:
        """The calibrated probability of each row (float64, the model's feature order, NaN missing)."""
        ...

    def contributions(self, values: np.ndarray) -> np.ndarray:
        """[rows, features + 1]: each feature's exact contribution to the log-odds, then the base."""
        ...

    def to_text(self) -> str: ...

    def warm(self) -> None:
        """Build once what the contributions need (path tables, compiled code), so a service pays
        for it at start rather than on its first request."""
        ...


def _one_missing_row(model: ServedModel) -> np.ndarray:
    return np.full((1, len(model.features)), np.nan)


@dataclass(frozen=True)
class TreeModel:
    """A LightGBM booster with its calibration folded into the leaves (training/calibration.py),
    explained by the exact path tables (serving/explain/tree_shap.py)."""

    booster: lgb.Booster
    family: str = "lightgbm"

    @property
    def features(self) -> list[str]:
        return list(self.booster.feature_name())

    @cached_property
    def explainer(self) -> PathExplainer:
        """Built once (path tables, ~1 s), not on a request."""
        return PathExplainer(self.booster)

    def predict(self, values: np.ndarray) -> np.ndarray:
        """LightGBM's probabilities. A large batch (a round's health check) takes them from the
        explainer's raw scores, the same float64 sums in the same order (tested equal to the bit),
        in a fifth of LightGBM's time at 500 trees × 63 leaves."""
        if len(values) >= FAST_PREDICT_FROM and self._sigmoid_of_raw and self.explainer.refusal is None:
            return expit(self.explainer.raw_scores(values))
        return np.asarray(self.booster.predict(values), dtype=np.float64)

    @cached_property
    def _sigmoid_of_raw(self) -> bool:
        """Whether the probability is the logistic of the raw score (a binary objective, slope 1)."""
        header = self.booster.model_to_string(num_iteration=0).splitlines()
        return "objective=binary sigmoid:1" in header

    def contributions(self, values: np.ndarray) -> np.ndarray:
        return self.explainer.contributions(values)

    def to_text(self) -> str:
        return self.booster.model_to_string()

    def warm(self) -> None:
        self.explainer.contributions(_one_missing_row(self))


@dataclass(frozen=True)
class LinearPlusTrees:
    """A logistic regression's log-odds plus trees: boosted from it (LightGBM with the logistic's
    score as its starting score, `logistic_plus_trees`) or fitted beside it and averaged with it
    (`logistic_and_trees`, each part scaled by its share of the mean). The served log-odds are the sum, and so
    are the exact contributions, the base values included (each part's attributions are exact for
    its own output, and attributions add over a sum of models). Calibration is folded into both
    parts: Platt's slope into the linear weights and the leaves, its intercept into the linear part."""

    linear: LinearScore
    trees: TreeModel
    family: str = FAMILY_LINEAR_PLUS_TREES

    def __post_init__(self) -> None:
        if self.linear.features != self.trees.features:
            raise ValueError("the linear part and the trees must read the same features, in the same order")

    @property
    def features(self) -> list[str]:
        return list(self.linear.features)

    def raw_score(self, values: np.ndarray) -> np.ndarray:
        return self.linear.raw_score(values) + np.asarray(
            self.trees.booster.predict(values, raw_score=True), dtype=np.float64
        )

    def predict(self, values: np.ndarray) -> np.ndarray:
        return expit(self.raw_score(values))

    def contributions(self, values: np.ndarray) -> np.ndarray:
        contributions = self.trees.contributions(values)
        contributions += self.linear.contributions(values)
        return contributions

    def warm(self) -> None:
        self.trees.warm()
        self.linear.warm()

    def to_text(self) -> str:
        return json.dumps(
            {
                "family": self.family,
                "linear": json.loads(self.linear.to_text()),
                "trees": self.trees.to_text(),
            }
        )


def explanation_refusal(model: ServedModel) -> str | None:
    """Why the model's reasons could not be exact (one sentence), or None: such a model is refused
    at promotion and never served."""
    trees = model.trees if isinstance(model, LinearPlusTrees) else model
    return refusal_of(trees.booster) if isinstance(trees, TreeModel) else None


def model_from_text(text: str) -> ServedModel:
    """The model a `to_text()` wrote: a LightGBM model string, or a JSON document naming its family."""
    if not text.lstrip().startswith("{"):
        return TreeModel(lgb.Booster(model_str=text))
    document = json.loads(text)
    family = document.get("family")
    if family == FAMILY_LINEAR:
        return LinearScore.from_text(text)
    if family in (FAMILY_LINEAR_PLUS_TREES, FAMILY_LINEAR_AND_TREES):
        return LinearPlusTrees(
            LinearScore.from_text(json.dumps(document["linear"])),
            TreeModel(lgb.Booster(model_str=document["trees"])),
            family,
        )
    raise ValueError(f"a served model of family {family!r}, which this version of anbu cannot serve")
