"""The model that serves: the registry's `champion`, loaded once, with what a caller needs to know.

Serving never guesses which model it runs: the version, the run it came from, its training window
and test-round metrics travel with the booster, and every score carries the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import lightgbm as lgb
import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.explain.tree_shap import PathExplainer
from serving.scoring.reasons import ReasonPlan
from training.promotion_history import served_promotion
from training.tracking import CHAMPION, MODEL_NAME, StoreUnavailable, configure, require_store


class NoChampion(Exception):
    """No model can serve: no store, a store that does not answer, or no version with the alias."""


@dataclass(frozen=True)
class Champion:
    booster: lgb.Booster
    version: str
    run_id: str
    features: list[str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    promotion: dict[str, str] = field(default_factory=dict)
    """How this version became the champion: the latest decision that moved the alias to it, with
    its reasons, and, for an override, who made it and why (training/promotion_history.py keeps them all)."""

    @cached_property
    def explainer(self) -> PathExplainer:
        """The exact fast SHAP path for this booster, built once (path tables, ~1 s)."""
        return PathExplainer(self.booster)

    @cached_property
    def plan(self) -> ReasonPlan:
        """How this model's features group into reasons."""
        return ReasonPlan.for_features(self.features)

    @property
    def training_window(self) -> dict[str, str]:
        return {
            "train_rounds": self.params.get("rounds.train", ""),
            "validation_round": self.params.get("rounds.validation", ""),
            "test_round": self.params.get("rounds.test", ""),
            "experiment": self.params.get("name", ""),
            "label_framing": self.params.get("label.framing", ""),
            "calibrated_on": self.params.get("calibrated_on", ""),
        }


def _registered(alias: str) -> tuple[MlflowClient, ModelVersion]:
    """The registry's entry behind `alias`. The store must exist and answer
    (training/tracking.py: require_store); it is never created here."""
    try:
        require_store()
    except StoreUnavailable as error:
        raise NoChampion(str(error)) from None
    client = configure()
    try:
        return client, client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        raise NoChampion(
            f"no version of {MODEL_NAME} has the alias '{alias}'; run `anbu train` and `anbu promote`"
        ) from None


def champion_version(alias: str = CHAMPION) -> str:
    """Which version serves, without loading it: what the checks before start need to know."""
    return str(_registered(alias)[1].version)


def load_champion(alias: str = CHAMPION) -> Champion:
    """The booster behind `alias` (LightGBM flavour: probabilities, not pyfunc labels)."""
    client, version = _registered(alias)
    booster = mlflow.lightgbm.load_model(f"models:/{MODEL_NAME}/{version.version}")
    run = client.get_run(version.run_id)
    return Champion(
        booster=booster,
        version=str(version.version),
        run_id=version.run_id,
        features=list(booster.feature_name()),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        promotion=served_promotion(str(version.version), version.tags),
    )
