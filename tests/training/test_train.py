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
    log_odds = booster.predict(rows, raw_score=True)
    assert np.abs(contributions.sum(axis=1) - log_odds).max() < 1e-6
    assert np.abs(probabilities - 1 / (1 + np.exp(-log_odds))).max() < 1e-12


def test_run_logs_curves_fairness_importance_shap_and_the_card(trained) -> None:
    result, run, _ = trained
    client = MlflowClient()
    listed = {
        a.path
        for folder in ("evaluation", "explanation")
        for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert listed == {
        "evaluation/precision_at_capacity.png",
        "evaluation/calibration.png",
        "evaluation/fairness_by_group.csv",
        "evaluation/fairness_by_group.png",
        "explanation/feature_importance.csv",
        "explanation/feature_importance.png",
        "explanation/shap_summary.png",
    }
    assert 0 <= result.metrics["model_truth_min_group_recall_ratio"] <= 1.0 + 1e-9
    assert "lowest_group_recall" in run.data.tags
    card = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model_card.md"))
    text = card.read_text(encoding="utf-8")
    for heading in ("## Intended use", "## Data window", "## Test round", "## Fairness", "## Known limits"):
        assert heading in text
    assert "| training | 2025-03-31, 2025-05-31" in text
    assert (
        f"| precision at capacity (city-wide) | {result.metrics['model_truth_precision_at_capacity']:.3f}"
        in text
    )


def test_visit_noise_calibration_logs_the_estimated_error_rates(trained) -> None:
    _, run, _ = trained
    assert run.data.params["calibrated_on"].startswith("validation-round visits, through")
    assert (
        0
        < run.data.metrics["visit_false_positive_rate_estimate"]
        < run.data.metrics["visit_sensitivity_estimate"]
        <= 1
    )


def test_the_logged_signature_accepts_missing_values_in_every_feature(trained) -> None:
    result, run, _ = trained
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{result.model_version}")
    inputs = model.metadata.get_input_schema().inputs
    assert {spec.type.name for spec in inputs} == {"double"}
