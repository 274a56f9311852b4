"""A small city with a trained, promoted champion and two scored rounds, and the real server on it
(the `served` and `server` fixtures, registered in tests/conftest.py).

Everything is real: a SQLite MLflow store in a temporary folder, `anbu`'s own training and
promotion, and `bentoml serve` in a subprocess called over HTTP.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from anbu.settings import Settings
from synthetic.generator import generate_city
from tests.support.local_server import bentoml_server, service_environment
from training.config import load_experiment
from training.promotion import promote
from training.promotion_gates import Override, load_gates
from training.train import train_experiment

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "baseline.toml"
ROUND = pd.Timestamp("2026-07-31")
PREVIOUS = pd.Timestamp("2026-06-30")
DISTRICT = "관악구"
"""The district of the scoped planner key."""
SERVE_ANYWAY = Override(
    "the serving tests", "the gates are tested in tests/training; here any trained model may serve"
)


def found_within_a_year(data: Path, day: pd.Timestamp = ROUND) -> set[str]:
    """From the city's own visits, not the scored round: who a visit found isolated or at risk in
    the 365 days up to the round (the households the discovery list must leave out)."""
    visits = pd.read_parquet(data / "outreach_visits.parquet")
    on = pd.to_datetime(visits["visited_on"])
    found = (
        visits["outcome"].isin(["isolated", "at_risk"]) & (on <= day) & (on >= day - pd.Timedelta(days=365))
    )
    return set(visits.loc[found, "household_id"])


@dataclass(frozen=True)
class Served:
    data: Path
    store: Path
    version: str


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("serving")
    data = root / "city"
    # Enough households that the validation survey holds what calibration needs (training refuses
    # fewer than 15 survey positives); 6,000 was on the edge of it.
    generate_city(data, households=9_000, months=24, seed=3)
    return _trained_and_scored(data, root / "models", load_experiment(BASELINE), [PREVIOUS, ROUND])


def _trained_and_scored(data: Path, store: Path, config, rounds: list[pd.Timestamp]) -> Served:
    """`anbu train`, `anbu promote` and `anbu score` of each round in a store of its own; the served
    round (the last) through the health gate, as `anbu score` takes it."""
    from serving.health.gate import health_for_scoring
    from serving.scoring.champion import load_champion
    from serving.scoring.rounds import score_round

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANBU_MODELS_DIR", str(store))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        train_experiment(data, config, BASELINE, Settings())
        decision = promote(None, load_gates(ROOT / "experiments" / "promotion.toml"), SERVE_ANYWAY)
        assert decision.promote, decision.reasons
        champion = load_champion()
        assert champion.model.family == config.model.family
        for day in rounds[:-1]:
            score_round(data, day, champion)
        score_round(data, rounds[-1], champion, health=health_for_scoring(data, rounds[-1], champion, None))
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # set_tracking_uri exported it; keep tests independent
    return Served(data, store, champion.version)


@pytest.fixture(scope="session")
def served_mean(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """The same city served by a champion of another family: the mean of a logistic regression and
    LightGBM (training/families.py), in a store of its own, on a copy of the delivery (scored
    rounds are filed by model version, and both stores start at version 1). Only the served round
    is scored (not the one before it): not a stand-in for `served`."""
    from anbu.data_folder import DataFolder
    from training.config import ModelChoice

    root = tmp_path_factory.mktemp("serving-mean")
    data = root / "city"
    written = DataFolder(served.data)
    outputs = {
        written.scores().name,
        written.records.name,
        written.lists.name,
        written.health(ROUND).parent.name,
    }
    shutil.copytree(served.data, data, ignore=lambda folder, names: [n for n in names if n in outputs])
    config = load_experiment(BASELINE).model_copy(update={"model": ModelChoice(family="logistic_and_trees")})
    return _trained_and_scored(data, root / "models", config, [ROUND])


@pytest.fixture
def models_env(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return served


@dataclass(frozen=True)
class Server:
    url: str
    keys: dict[str, str]
    served: Served
    records: Path
    keys_file: Path
    log: Path

    def _headers(self, role: str | None, extra: dict | None) -> dict:
        return {**({"X-API-Key": self.keys[role]} if role else {}), **(extra or {})}

    def post(self, path: str, body: dict, role: str | None = "admin", headers: dict | None = None, **kwargs):
        if "content" in kwargs:
            return httpx.post(self.url + path, headers=self._headers(role, headers), timeout=60, **kwargs)
        return httpx.post(
            self.url + path, json=body, headers=self._headers(role, headers), timeout=60, **kwargs
        )

    def get(
        self, path: str, role: str | None = "admin", headers: dict | None = None, **kwargs
    ) -> httpx.Response:
        return httpx.get(self.url + path, headers=self._headers(role, headers), timeout=60, **kwargs)


@contextmanager
def running_server(served: Served, folder: Path, **settings: str) -> Iterator[Server]:
    """A real `bentoml serve` on the served city with keys of every role and records of its own in
    `folder` (a test that writes lasting records can have a server no other test reads); `settings`
    adds ANBU_* settings."""
    from serving.keys.key_file import add_key

    keys_file, records = folder / "api_keys.toml", folder / "records.sqlite"
    keys = {
        "planner": add_key(keys_file, "test-planner", "planner", districts=["*"]),
        "service": add_key(keys_file, "test-service", "service"),
        "admin": add_key(keys_file, "test-admin", "admin"),
        "monitor": add_key(keys_file, "test-monitor", "monitor"),
        "district": add_key(keys_file, "gwanak-team", "planner", districts=[DISTRICT], max_capacity=20),
        "call-centre": add_key(keys_file, "call-centre", "service", routes=["/score"]),
    }
    environment = service_environment(
        served.data,
        folder,
        as_of=str(ROUND.date()),
        ANBU_KEYS=str(keys_file),
        ANBU_MODELS_DIR=str(served.store),
        **settings,
    )
    environment.pop("MLFLOW_TRACKING_URI", None)
    with bentoml_server(
        "serving.api.service:Anbu", environment, folder / "server.log", working_dir=ROOT
    ) as url:
        yield Server(url, keys, served, records, keys_file, folder / "server.log")


@pytest.fixture(scope="session")
def server(served: Served, tmp_path_factory: pytest.TempPathFactory):
    with running_server(served, tmp_path_factory.mktemp("server")) as running:
        yield running
