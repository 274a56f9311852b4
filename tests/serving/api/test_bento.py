"""A built Bento serves the champion it was built with, without the MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import bentoml
import httpx

from serving.keys.key_file import add_key
from tests.support.local_server import bentoml_server
from tests.support.served import ROUND


def test_a_built_bento_serves_its_packed_champion_without_the_registry(served, tmp_path, monkeypatch) -> None:
    from serving.api.bento import build_bento

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tag = build_bento()
    assert tag.startswith("anbu:")
    assert not (Path(__file__).resolve().parents[3] / "serving" / "api" / "bento_model.txt").exists()
    source = Path(bentoml.bentos.get(tag).path) / "src"
    packed = {path.relative_to(source).parts[0] for path in source.rglob("*.py")}
    # The synthetic city is a data source upstream of the pipeline: a deployment never runs it.
    assert packed == {"anbu", "features", "training", "serving"}

    key = add_key(tmp_path / "keys.toml", "bento-test", "admin")
    environment = {
        **os.environ,
        "ANBU_DATA": str(served.data),
        "ANBU_AS_OF": str(ROUND.date()),
        "ANBU_KEYS": str(tmp_path / "keys.toml"),
        "ANBU_RECORDS_URL": str(tmp_path / "records.sqlite"),
        "ANBU_MODELS_DIR": str(tmp_path / "no-store-here"),  # the registry is out of reach
    }
    with bentoml_server(tag, environment, tmp_path / "server.log", cwd=tmp_path) as url:
        model = httpx.post(url + "/model", json={}, headers={"X-API-Key": key}, timeout=30).json()
    assert model["model_version"] == served.version
    assert not (tmp_path / "no-store-here").exists()
