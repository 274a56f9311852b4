"""The model that serves: the registry's `champion`, loaded once, with what a caller needs to know.

Serving never guesses which model it runs: the version, the run it came from, its training window
and test-round metrics travel with the model, and every score carries the version. The model is
read only through serving/explain/served_model.py (probability, exact contributions, text), so
what serves a LightGBM champion serves any family that can say those exactly.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import mlflow
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.explain.served_model import ServedModel, TreeModel, explanation_refusal, model_from_text
from serving.explain.served_pyfunc import SERVED_ARTIFACT, SERVED_FILE
from serving.explain.tree_model import UnsupportedModel
from serving.explain.tree_shap import PathExplainer
from serving.scoring.reasons import ReasonPlan
from training.promotion_history import served_promotion
from training.tracking import CHAMPION, MODEL_NAME, StoreUnavailable, configure, require_store


class NoChampion(Exception):
    """No model can serve: no store, a store that does not answer, or no version with the alias."""


@dataclass(frozen=True)
class Champion:
    model: ServedModel
    version: str
    run_id: str
    features: list[str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    promotion: dict[str, str] = field(default_factory=dict)
    """How this version became the champion: the latest decision that moved the alias to it, with
    its reasons, and, for an override, who made it and why (training/promotion_history.py keeps them all)."""

    @property
    def booster(self) -> lgb.Booster:
        """The LightGBM booster of a tree champion (what only tree tools, such as the benchmarks'
        comparison with shap.TreeExplainer, need)."""
        if not isinstance(self.model, TreeModel):
            raise TypeError(f"isolation-risk v{self.version} is a {self.model.family} model, not LightGBM")
        return self.model.booster

    @property
    def explainer(self) -> PathExplainer | ServedModel:
        """What gives the exact contributions, made ready here (at a service's start, not on its
        first request): a tree model's path tables, or the model itself."""
        self.model.warm()
        return self.model.explainer if isinstance(self.model, TreeModel) else self.model

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


def load_served_model(client: MlflowClient, version: ModelVersion, run: Run | None = None) -> ServedModel:
    """The served form of a registered version, whatever its family: a LightGBM version through
    the LightGBM flavour (probabilities, not pyfunc labels), another family from the served text
    its run logged beside its pyfunc. `run`: the version's run, when the caller has read it."""
    run = run or client.get_run(version.run_id)
    family = run.data.params.get("model.family", "lightgbm")
    if family == "lightgbm":
        return TreeModel(mlflow.lightgbm.load_model(f"models:/{MODEL_NAME}/{version.version}"))
    with tempfile.TemporaryDirectory(prefix="anbu-model-") as folder:
        path = client.download_artifacts(version.run_id, f"{SERVED_ARTIFACT}/{SERVED_FILE}", folder)
        return model_from_text(Path(path).read_text(encoding="utf-8"))


def load_champion(alias: str = CHAMPION) -> Champion:
    """The model behind `alias`, in its served form."""
    client, version = _registered(alias)
    run = client.get_run(version.run_id)
    model = load_served_model(client, version, run)
    refusal = explanation_refusal(model)
    if refusal is not None:  # a version the alias reached without promotion's check
        raise UnsupportedModel(
            f"model version {version.version} cannot be served with exact reasons: {refusal}"
        )
    return Champion(
        model=model,
        version=str(version.version),
        run_id=version.run_id,
        features=model.features,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        promotion=served_promotion(str(version.version), version.tags),
    )
