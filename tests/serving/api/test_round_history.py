"""Scored rounds are history: a round is served as the model that scored it wrote it, after any
promotion, and only `anbu score` writes rounds — never twice, never into the past."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from serving.keys.key_file import add_key
from serving.scoring.rounds import scores_path
from tests.support.local_server import ServerFailed, bentoml_server, free_port, service_environment
from tests.support.served import PREVIOUS, ROOT, ROUND

runner = CliRunner()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def city(served, tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A copy of the served city and its model store, to promote and score in without touching
    what other tests serve."""
    data, store = tmp_path / "city", tmp_path / "models"
    shutil.copytree(served.data, data)
    shutil.copytree(served.store, store)
    monkeypatch.setenv("ANBU_MODELS_DIR", str(store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in ("ANBU_RECORDS_URL", "ANBU_RECORDS_URL", "ANBU_KEYS", "ANBU_AS_OF"):
        monkeypatch.delenv(name, raising=False)
    return data, store


def _promote_a_new_version() -> str:
    """A second registered version (the same booster) made champion, as `anbu promote` would."""
    from training.tracking import CHAMPION, MODEL_NAME, configure

    client = configure()
    current = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    newer = client.create_model_version(MODEL_NAME, current.source, run_id=current.run_id)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, newer.version)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return str(newer.version)


def test_a_round_scored_by_an_earlier_model_is_served_as_it_was(served, city, tmp_path) -> None:
    data, store = city
    first = served.version
    written = {day: _digest(scores_path(data, day, first)) for day in (PREVIOUS, ROUND)}
    key = add_key(tmp_path / "keys.toml", "admin", "admin")
    environment = service_environment(data, tmp_path)
    with bentoml_server(
        "serving.api.service:Anbu", environment, tmp_path / "server.log", working_dir=ROOT
    ) as url:
        headers = {"X-API-Key": key}

        def rank(as_of) -> dict:
            body = {"request": {"gu": "관악구", "capacity": 10, "as_of": str(as_of.date())}}
            response = httpx.post(url + "/rank", json=body, headers=headers, timeout=60)
            assert response.status_code == 200, response.text
            return response.json()

        seen_before = rank(PREVIOUS), rank(ROUND)
        second = _promote_a_new_version()
        history = runner.invoke(app, ["score", "--data", str(data), "--as-of", str(PREVIOUS.date())])
        assert history.exit_code == 2 and "is history" in history.output
        again = runner.invoke(app, ["score", "--data", str(data), "--as-of", str(ROUND.date())])
        assert again.exit_code == 0, again.output
        assert scores_path(data, ROUND, second).is_file()

        reloaded = httpx.post(url + "/reload", json={}, headers=headers, timeout=120).json()
        assert reloaded == {
            "model_version": second,
            "round_served": str(ROUND.date()),
            "round_model_version": second,
        }
        earlier, now = rank(PREVIOUS), rank(ROUND)
        assert earlier == seen_before[0] and earlier["model_version"] == first  # as planners saw it
        assert now["model_version"] == second and now["previous_round"] == str(PREVIOUS.date())
        rewrite = runner.invoke(app, ["score", "--data", str(data), "--as-of", str(ROUND.date())])
        assert rewrite.exit_code == 2 and "never rewritten" in rewrite.output
    assert {day: _digest(scores_path(data, day, first)) for day in (PREVIOUS, ROUND)} == written


def test_rank_reads_stored_rounds_and_never_scores_one(city) -> None:
    data, _ = city
    result = runner.invoke(
        app, ["rank", "--data", str(data), "--as-of", "2026-05-31", "--gu", "관악구", "--capacity", "5"]
    )
    assert result.exit_code == 2 and "2026-05-31 is not scored yet" in result.output
    assert not (data / "_scores" / "2026-05-31").exists()


def test_start_up_refuses_in_one_sentence(city, tmp_path, monkeypatch) -> None:
    data, store = city

    def serve() -> str:
        began = time.monotonic()
        result = runner.invoke(app, ["serve", "--data", str(data)])
        assert result.exit_code == 2 and time.monotonic() - began < 15
        return " ".join(result.output.split())

    monkeypatch.setenv("ANBU_MODELS_DIR", str(tmp_path / "nowhere"))
    assert "no model store at" in serve() and not (tmp_path / "nowhere" / "mlflow.db").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    assert "does not answer" in serve()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("ANBU_MODELS_DIR", str(store))
    served = scores_path(data, ROUND, "1")
    served.write_bytes(served.read_bytes()[: served.stat().st_size // 2])
    message = serve()
    assert "cannot be read" in message and "anbu score" in message
    served.unlink()
    shutil.copy(scores_path(data, PREVIOUS, "1"), data / "_scores" / "2026-06-30.parquet")
    assert "layout before rounds were kept per model version" in serve()


def test_bentoml_serve_on_a_damaged_round_exits_instead_of_crash_looping(city, tmp_path) -> None:
    data, store = city
    served = scores_path(data, ROUND, "1")
    served.write_bytes(b"not parquet")
    environment = {**os.environ, "ANBU_DATA": str(data), "BENTOML_HOME": str(tmp_path / "bentoml")}
    began = time.monotonic()
    server = bentoml_server(
        "serving.api.service:Anbu", environment, tmp_path / "server.log", working_dir=ROOT
    )
    with pytest.raises(ServerFailed, match="cannot be read"), server:
        pass
    assert time.monotonic() - began < 60


def test_anbu_serve_passes_sigterm_to_the_server(city, tmp_path) -> None:
    data, store = city
    port = free_port()
    environment = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "ANBU_KEYS": str(tmp_path / "k.toml"),
    }
    anbu = str(Path(sys.executable).with_name("anbu"))
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [anbu, "serve", "--data", str(data), "--port", str(port)], env=environment, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) is not None
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port is still held after SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
