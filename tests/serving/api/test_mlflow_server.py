"""Train, promote, score and serve against a real `mlflow server` process: the registry a city
would share between its data scientists and its service, not only the embedded SQLite store.

The server runs in a subprocess with its own SQLite backend and proxied artifacts (what
`mlflow server` does by default); every step of the project reaches it only through
MLFLOW_TRACKING_URI, and nothing is written to the embedded store's folder.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from anbu.settings import Settings
from tests.support.local_server import bentoml_server, free_port, server_process, service_environment
from tests.support.served import BASELINE, ROOT, ROUND, SERVE_ANYWAY, Served


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with server_process(command, port, "/health", folder / "mlflow-server.log") as url:
        yield url


def test_a_model_trained_and_promoted_on_an_mlflow_server_is_what_the_service_serves(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.keys.key_file import add_key
    from serving.scoring.champion import load_champion
    from serving.scoring.rounds import score_round, scores_path
    from training.config import load_experiment
    from training.promotion import promote
    from training.promotion_gates import load_gates
    from training.train import train_experiment

    city = tmp_path / "city"  # the session's city without its rounds: this registry scores its own
    shutil.copytree(served.data, city, ignore=shutil.ignore_patterns("_scores", "_records"))
    embedded = tmp_path / "embedded-store"
    with mlflow_server(tmp_path) as registry:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
        # set by require_store for a server; set here too, so they are undone after this test
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        monkeypatch.setenv("ANBU_MODELS_DIR", str(embedded))

        train_experiment(city, load_experiment(BASELINE), BASELINE, Settings())
        decision = promote(None, load_gates(ROOT / "experiments" / "promotion.toml"), SERVE_ANYWAY)
        assert decision.promote, decision.reasons
        champion = load_champion()
        written = pd.read_parquet(score_round(city, ROUND, champion))

        aliases = httpx.get(
            f"{registry}/api/2.0/mlflow/registered-models/alias",
            params={"name": "isolation-risk", "alias": "champion"},
            timeout=10,
        ).json()["model_version"]
        assert aliases["version"] == champion.version
        assert aliases["run_id"] == champion.run_id

        key = add_key(tmp_path / "keys.toml", "test-admin", "admin")
        environment = service_environment(city, tmp_path, as_of=str(ROUND.date()))
        with bentoml_server(
            "serving.api.service:Anbu", environment, tmp_path / "server.log", working_dir=ROOT
        ) as url:
            headers = {"X-API-Key": key}
            model = httpx.post(url + "/model", json={}, headers=headers, timeout=30).json()
            households = written["household_id"].head(5).tolist()
            scores = httpx.post(
                url + "/score",
                json={"request": {"household_ids": households}},
                headers=headers,
                timeout=30,
            ).json()

    assert (model["model_version"], model["run_id"]) == (champion.version, champion.run_id)
    assert model["round_model_version"] == champion.version
    assert scores["model_version"] == champion.version
    expected = written.set_index("household_id")["risk"]
    assert len(scores["scores"]) == len(households)
    for score in scores["scores"]:
        assert score["risk"] == pytest.approx(float(expected[score["household_id"]]), abs=1e-12)
    assert scores_path(city, ROUND, champion.version).is_file()
    assert not embedded.exists(), "the embedded store was created although a server was configured"
