"""A built Bento serves the champion it was built with, without the MLflow store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from serving.auth import add_key
from tests.serving.conftest import ROUND, _free_port


def test_a_built_bento_serves_its_packed_champion_without_the_registry(served, tmp_path, monkeypatch) -> None:
    from serving.bento import build_bento

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tag = build_bento()
    assert tag.startswith("anbu:")
    assert not (Path(__file__).resolve().parents[2] / "serving" / "bento_model.txt").exists()

    key = add_key(tmp_path / "keys.toml", "bento-test", "admin")
    port = _free_port()
    environment = {
        **os.environ,
        "ANBU_DATA": str(served.data),
        "ANBU_AS_OF": str(ROUND.date()),
        "ANBU_KEYS": str(tmp_path / "keys.toml"),
        "ANBU_RECORDS": str(tmp_path / "records.sqlite"),
        "ANBU_MODELS_DIR": str(tmp_path / "no-store-here"),  # the registry is out of reach
        "BENTOML_DO_NOT_TRACK": "true",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("bentoml")),
            "serve",
            tag,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=environment,
        cwd=tmp_path,
        stdout=(tmp_path / "server.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "server.log").read_text()[-3000:])
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        model = httpx.post(url + "/model", json={}, headers={"X-API-Key": key}, timeout=30).json()
        assert model["model_version"] == served.version
        assert not (tmp_path / "no-store-here").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
