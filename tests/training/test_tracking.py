"""The embedded MLflow store lives under models/ unless MLFLOW_TRACKING_URI says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.tracking import EXPERIMENT_NAME, configure


def test_default_store_keeps_database_and_artifacts_under_the_models_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("ANBU_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    client = configure()
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert (tmp_path / "models" / "mlflow.db").is_file()
    assert experiment.artifact_location == (tmp_path / "models" / "artifacts").resolve().as_uri()
    assert not (tmp_path / "mlruns").exists()
