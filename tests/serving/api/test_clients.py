"""The clients other services reach for first work against the real service with its keys:
BentoML's own `SyncHTTPClient` (built from /schema.json) and a client generated from /docs.json by
openapi-python-client. Each scores and ranks with the right key and meets the documented error
body for a wrong key (401), a key outside its scope (403) and a bad field (400/422)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import bentoml
import pandas as pd
import pytest
from bentoml.exceptions import BentoMLException

from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND, Server

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = "openapi-python-client==0.29.1"
"""Run by uv in a tool environment of its own: it pins typer below the version the CLI uses."""
ERROR_KEYS = {"error", "code", "field"}
"""What every documented 4xx body carries (serving/http/errors.py)."""


@pytest.fixture(scope="module")
def household_ids(server: Server) -> list[str]:
    scored = pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))
    return scored["household_id"].head(3).tolist()


def _dong(server: Server) -> tuple[str, str]:
    """A dong of the district, by code and by name, as /key_scope lists it."""
    scope = server.post("/key_scope", {}, role="planner").json()
    district = next(d for d in scope["districts"] if d["gu"] == DISTRICT)
    named = district["named_dongs"][0]
    return named["code"], named["name"]


def _error(failure: BentoMLException) -> dict:
    body = json.loads(str(failure))
    assert set(body) >= ERROR_KEYS, body
    return body


def test_bentomls_own_client_scores_and_ranks_with_a_key(server: Server, household_ids: list[str]) -> None:
    code, name = _dong(server)
    with bentoml.SyncHTTPClient(server.url, token=server.keys["admin"], server_ready_timeout=30) as client:
        scored = client.score(request={"household_ids": household_ids})
        assert [s["household_id"] for s in scored["scores"]] == household_ids
        ranked = client.rank(request={"gu": DISTRICT, "dong": name, "capacity": 5})
    assert ranked["dong"] == code and ranked["dong_name"] == name
    assert ranked["households"] and {h["dong_name"] for h in ranked["households"]} == {name}
    assert ranked["expected_finds"]["households"] == len(ranked["households"])


def test_bentomls_own_client_meets_the_documented_refusals(server: Server, household_ids: list[str]) -> None:
    with (
        bentoml.SyncHTTPClient(server.url, token="not-a-key", server_ready_timeout=30) as client,
        pytest.raises(BentoMLException) as unknown,
    ):
        client.score(request={"household_ids": household_ids})
    assert unknown.value.error_code == HTTPStatus.UNAUTHORIZED
    assert _error(unknown.value)["code"] == "key_unknown"

    with bentoml.SyncHTTPClient(server.url, token=server.keys["district"], server_ready_timeout=30) as client:
        with pytest.raises(BentoMLException) as outside:
            client.rank(request={"gu": "강남구", "capacity": 5})
        assert outside.value.error_code == HTTPStatus.FORBIDDEN
        assert _error(outside.value)["code"] == "outside_scope"
        with pytest.raises(BentoMLException) as bad_field:
            client.rank(request={"gu": DISTRICT, "capacity": 0})
        assert bad_field.value.error_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY)
        assert _error(bad_field.value)["field"] == "capacity"
        with pytest.raises(BentoMLException) as unknown_dong:
            client.rank(request={"gu": DISTRICT, "dong": "보라매9동", "capacity": 5})
    assert unknown_dong.value.error_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body = _error(unknown_dong.value)
    assert body["code"] == "unknown_dong" and "'보라매9동'" in body["error"] and "/key_scope" in body["error"]


def _uv() -> str:
    """The uv `make` installed (on PATH, or the project's own .tools)."""
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).is_file(), "uv is missing: `make test` installs it into .tools/bin"
    return found


@pytest.fixture(scope="module")
def generated(server: Server, tmp_path_factory: pytest.TempPathFactory):
    """A Python client generated from the running service's /docs.json, importable."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "docs.json").write_text(server.get("/docs.json", role=None).text, encoding="utf-8")
    run = subprocess.run(
        [_uv(), "tool", "run", "--from", GENERATOR, "openapi-python-client", "generate"]
        + ["--path", "docs.json", "--output-path", "client", "--meta", "none"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("client")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
            del sys.modules[name]


def _call(generated, route: str, key: str | None, url: str, body: dict):
    """POST `body` to a route through the generated client; its parsed answer and raw response."""
    module = importlib.import_module(f"client.api.service_ap_is.anbu_{route}")
    wrapper = getattr(importlib.import_module("client.models"), f"Anbu{route.title()}Input")
    client = (
        generated.AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=False)
        if key
        else generated.Client(base_url=url, raise_on_unexpected_status=False)
    )
    with client:
        return module.sync_detailed(client=client, body=wrapper.from_dict({"request": body}))


def test_a_client_generated_from_the_document_scores_and_ranks(
    server: Server, generated, household_ids: list[str]
) -> None:
    scored = _call(generated, "score", server.keys["service"], server.url, {"household_ids": household_ids})
    assert scored.status_code == HTTPStatus.OK
    assert [s.household_id for s in scored.parsed.scores] == household_ids
    code, name = _dong(server)
    ranked = _call(
        generated, "rank", server.keys["planner"], server.url, {"gu": DISTRICT, "dong": code, "capacity": 5}
    )
    assert ranked.status_code == HTTPStatus.OK
    assert ranked.parsed.dong_name == name and {h.dong_name for h in ranked.parsed.households} == {name}


def test_a_client_generated_from_the_document_meets_the_documented_refusals(
    server: Server, generated, household_ids: list[str]
) -> None:
    cases = [
        ("score", None, {"household_ids": household_ids}, {HTTPStatus.UNAUTHORIZED}, "key_missing"),
        ("score", "not-a-key", {"household_ids": household_ids}, {HTTPStatus.UNAUTHORIZED}, "key_unknown"),
        (
            "rank",
            server.keys["district"],
            {"gu": "강남구", "capacity": 5},
            {HTTPStatus.FORBIDDEN},
            "outside_scope",
        ),
        (
            "rank",
            server.keys["planner"],
            {"gu": DISTRICT, "capacity": 0},
            {HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY},
            "out_of_range",
        ),
        (
            "rank",
            server.keys["planner"],
            {"gu": DISTRICT, "capacity": 5, "dong": "1168064000"},  # 강남구 역삼1동: not of 관악구
            {HTTPStatus.UNPROCESSABLE_ENTITY},
            "unknown_dong",
        ),
    ]
    for route, key, body, statuses, code in cases:
        answer = _call(generated, route, key, server.url, body)
        assert answer.status_code in statuses, (route, body, answer.status_code, answer.content)
        document = json.loads(answer.content)
        assert set(document) >= ERROR_KEYS and document["code"] == code, document
        assert answer.parsed is not None, (
            f"{route} {answer.status_code}: the document does not describe this body"
        )
