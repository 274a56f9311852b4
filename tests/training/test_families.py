"""A city may train a logistic regression, or trees boosted from one, instead of LightGBM alone:
the run registers it, anbu loads it in its served form with exact reasons, and MLflow's own
readers get probabilities from the registry."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from anbu.settings import Settings
from features.round_table import build_training_set
from serving.scoring.champion import load_served_model
from synthetic.generator import generate_city
from training.config import ModelChoice, load_experiment
from training.tracking import MODEL_NAME
from training.train import train_experiment

BASELINE = Path(__file__).parents[2] / "experiments" / "baseline.toml"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    city = tmp_path_factory.mktemp("families") / "city"
    generate_city(city, households=12_000, months=24, seed=5)
    return city


@pytest.mark.parametrize("family", ["logistic", "logistic_plus_trees", "logistic_and_trees"])
def test_a_family_is_trained_registered_and_served_with_exact_reasons(
    city: Path, family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    config = load_experiment(BASELINE)
    config = config.model_copy(update={"model": ModelChoice(family=family)})
    result = train_experiment(city, config, BASELINE, Settings())
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.params["model.family"] == family
    assert "logistic regression" in run.data.params["model_size"]
    card = Path(client.download_artifacts(result.run_id, "model_card.md", str(tmp_path)))
    assert "logistic regression" in card.read_text(encoding="utf-8")

    model = load_served_model(client, client.get_model_version(MODEL_NAME, result.model_version))
    assert model.family == family
    test, _ = build_training_set(city, [np.datetime64(config.rounds.test)])
    values = test[model.features].to_numpy(dtype="float64", na_value=np.nan)[:2_000]
    risk = model.predict(values)
    assert ((risk > 0) & (risk < 1)).all()
    contributions = model.contributions(values)
    assert np.abs(contributions.sum(axis=1) - np.log(risk / (1 - risk))).max() < 1e-9
    # The registry's own readers get the same probabilities (not labels) from the pyfunc.
    registered = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{result.model_version}")
    assert np.abs(np.asarray(registered.predict(test[model.features].head(2_000))) - risk).max() < 1e-12
