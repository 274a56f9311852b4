"""Promotion gates: a candidate must not be worse, must be calibrated, and fair to every group."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from training.promotion import PromotionGates, decide, load_gates, promote
from training.tracking import CHAMPION, MODEL_NAME, configure

GATES = PromotionGates(capacity_tolerance=0.02, max_ece=0.02, min_group_recall_ratio=0.5)
GOOD = {
    "model_truth_precision_at_capacity": 0.80,
    "model_truth_ece": 0.01,
    "model_truth_min_group_recall_ratio": 0.7,
}


def test_first_candidate_that_passes_is_promoted() -> None:
    assert decide(GOOD, None, GATES, "1").promote


def test_candidate_worse_than_champion_beyond_tolerance_is_refused_with_the_reason() -> None:
    champion = {**GOOD, "model_truth_precision_at_capacity": 0.85}
    decision = decide(GOOD, champion, GATES, "2")
    assert not decision.promote
    assert decision.reasons == [
        "precision at capacity 0.800 is below the champion's 0.850 minus the tolerance 0.02"
    ]
    assert decide(GOOD, {**GOOD, "model_truth_precision_at_capacity": 0.815}, GATES, "2").promote


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model_truth_ece": 0.044}, "calibration error 0.0440 is above the bound 0.02"),
        ({"model_truth_min_group_recall_ratio": 0.36}, "lowest group recall ratio 0.36 is below 0.5"),
    ],
)
def test_miscalibrated_or_unfair_candidate_is_refused(change: dict, reason: str) -> None:
    decision = decide({**GOOD, **change}, None, GATES, "1")
    assert not decision.promote and decision.reasons == [reason]


def test_a_run_without_a_fairness_measure_is_refused_as_unknown() -> None:
    metrics = {k: v for k, v in GOOD.items() if k != "model_truth_min_group_recall_ratio"}
    decision = decide(metrics, None, GATES, "1")
    assert decision.reasons == [
        "the run recorded no model_truth_min_group_recall_ratio, so fairness is unknown"
    ]


def test_shipped_gates_file_loads() -> None:
    assert load_gates(Path(__file__).parents[2] / "experiments" / "promotion.toml") == GATES


def _register(metrics: dict[str, float]) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 5)
    with mlflow.start_run():
        mlflow.log_metrics(metrics)
        info = mlflow.lightgbm.log_model(booster, name="model", registered_model_name=MODEL_NAME)
    return str(info.registered_model_version)


def test_promotion_moves_the_alias_only_for_a_passing_version_and_tags_every_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    configure()
    first = _register(GOOD)
    second = _register({**GOOD, "model_truth_ece": 0.05})
    client = MlflowClient()
    assert promote(first, GATES).promote
    assert not promote(second, GATES).promote
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == first
    refused = client.get_model_version(MODEL_NAME, second).tags
    assert refused["promotion.decision"] == "refused"
    assert "calibration error 0.0500" in refused["promotion.reasons"]
    assert refused["promotion.compared_with"] == first
