"""A training run against a real MLflow store: logged, registered, and loadable as probabilities."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from features.synthetic.generator import generate_city
from training.config import load_experiment
from training.tracking import MODEL_NAME
from training.train import train_experiment

BASELINE = Path(__file__).parents[2] / "experiments" / "baseline.toml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("training")
    city = root / "city"
    generate_city(city, households=8_000, months=24, seed=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.chdir(root)
        result = train_experiment(city, load_experiment(BASELINE), BASELINE)
        client = MlflowClient()
        run = client.get_run(result.run_id)
        booster = mlflow.lightgbm.load_model(f"models:/{MODEL_NAME}/{result.model_version}")
        yield result, run, booster


def test_run_records_config_params_and_metrics_of_model_and_baselines(trained) -> None:
    result, run, _ = trained
    assert run.data.params["label.framing"] == "survey_weighted"
    for name in ("model", "rule", "logistic", "best_possible"):
        assert f"{name}_truth_precision_at_capacity" in run.data.metrics
    assert "rule_truth_ece" not in run.data.metrics  # a rule's score is not a probability
    assert "rule_visits_brier" not in run.data.metrics
    assert (
        str(MlflowClient().get_model_version_by_alias(MODEL_NAME, "challenger").version)
        == result.model_version
    )
    assert 0 < result.metrics["model_truth_share_of_best_possible"] <= 1.0 + 1e-9


def test_registered_model_loads_with_the_lightgbm_flavour_and_returns_probabilities(trained) -> None:
    result, _, booster = trained
    assert result.model_version == "1"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, booster.num_feature()))
    probabilities = booster.predict(rows)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    contributions = booster.predict(rows, pred_contrib=True)
    log_odds = np.log(probabilities / (1 - probabilities))
    assert np.abs(contributions.sum(axis=1) - log_odds).max() < 1e-6


def test_run_logs_curves_and_the_fairness_table(trained) -> None:
    result, run, _ = trained
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert artifacts == {
        "evaluation/precision_at_capacity.png",
        "evaluation/calibration.png",
        "evaluation/fairness_by_group.csv",
    }
    assert 0 <= result.metrics["model_truth_min_group_recall_ratio"] <= 1.0 + 1e-9
    assert "lowest_group_recall" in run.data.tags
