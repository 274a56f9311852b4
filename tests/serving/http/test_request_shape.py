"""The shape of a request never earns a 5xx: one Content-Type or 415, an oversized body 413 however
it is sent, a field the route does not take 400 naming it; a records database that cannot be
written is a 503 with Retry-After and a request id on every route that reveals households; no
answer names the framework, and none with households may be kept by a browser."""

from __future__ import annotations

import importlib.metadata
import re
import sqlite3
import threading
import time
from collections.abc import Callable

import httpx
import pandas as pd
import pytest

from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND

LIST = {"gu": DISTRICT, "capacity": 3}


@pytest.fixture(scope="module")
def household(server) -> str:
    scored = pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))
    return str(scored.loc[scored["gu"] == DISTRICT, "household_id"].iloc[0])


def _household_requests(server, household: str) -> dict[str, Callable[[], httpx.Response]]:
    """One valid request to every route that reveals or records households."""
    return {
        "score": lambda: server.post("/score", {"request": {"household_ids": [household]}}, role="service"),
        "score_features": lambda: server.post(
            "/score_features",
            {"request": {"households": [{"household_id": household, "features": {}}]}},
            role="service",
        ),
        "rank": lambda: server.post("/rank", {"request": LIST}, role="planner"),
        "outcomes": lambda: server.post(
            "/outcomes",
            {
                "request": {
                    "visits": [
                        {"household_id": household, "visited_on": str(ROUND.date()), "outcome": "refused"}
                    ]
                }
            },
            role="admin",
        ),
        "export.csv": lambda: server.get("/planner/export.csv", role="planner", params=LIST),
        "export.xlsx": lambda: server.get("/planner/export.xlsx", role="planner", params=LIST),
    }


def test_two_content_types_are_refused_in_either_order(server, household) -> None:
    body = b'{"request": {"household_ids": ["%s"]}}' % household.encode()
    for kinds in (("multipart/form-data", "application/json"), ("application/json", "multipart/form-data")):
        response = httpx.post(
            server.url + "/score",
            headers=[("x-api-key", server.keys["service"]), *(("content-type", kind) for kind in kinds)],
            content=body,
            timeout=60,
        )
        assert response.status_code == 415, (kinds, response.text)
        assert response.json()["code"] == "not_json" and response.json()["field"] == "content-type"


def test_a_chunked_body_over_the_limit_without_a_length_is_a_413(server) -> None:
    def chunks():
        for _ in range(33):  # 2.16 MB in 64 kB chunks: over the 2 MB limit, no Content-Length
            yield b" " * 65_536

    response = httpx.post(
        server.url + "/score",
        headers={"x-api-key": server.keys["service"], "content-type": "application/json"},
        content=chunks(),
        timeout=60,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large" and response.json()["field"] == "body"


def test_a_field_beside_request_is_refused_naming_it_and_nothing_is_recorded(server, household) -> None:
    def overrides() -> int:
        with sqlite3.connect(server.records) as db:
            return db.execute("SELECT count(*) FROM overrides").fetchone()[0]

    before = overrides()
    decision = {"household_id": household, "action": "withdraw", "reason": "6월 목록 정정"}
    response = server.post(
        "/outcomes", {"request": {"overrides": [decision]}, "round_date": "2026-06-30"}, role="admin"
    )
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "unknown_field" and answer["field"] == "round_date"
    assert "round_date" in answer["error"] and "/outcomes" in answer["error"]
    assert overrides() == before
    # routes that take no fields take an empty object, and nothing else
    assert server.post("/model", {}, role="admin").status_code == 200
    extra = server.post("/model", {"verbose": True}, role="admin")
    assert extra.status_code == 400 and extra.json()["field"] == "verbose"
    # a body that names only the route's parameters is served as before
    assert server.post("/rank", {"request": LIST}, role="planner").status_code == 200


def test_every_household_route_is_a_503_with_retry_after_while_the_records_are_locked(
    server, household
) -> None:
    holder = sqlite3.connect(server.records, timeout=1, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    released = threading.Timer(150, holder.rollback)
    released.start()
    answers = {}
    try:
        for route, ask in _household_requests(server, household).items():
            began = time.monotonic()
            answers[route] = ask()
            assert time.monotonic() - began < 20, route
    finally:
        released.cancel()
        holder.rollback()
        holder.close()
    log = server.log.read_text()
    for route, response in answers.items():
        assert response.status_code == 503, (route, response.text)
        assert response.headers["retry-after"] == "5", route
        body = response.json()
        assert body["code"] == "records_unavailable" and "retry" in body["error"], route
        assert re.fullmatch(r"[0-9a-f]{16}", body["request_id"]), (route, body)
        assert f"request {body['request_id']} to " in log, route
    assert household not in log  # no household data in the log


def test_answers_with_households_are_not_kept_by_a_browser(server, household) -> None:
    answers = {route: ask() for route, ask in _household_requests(server, household).items()}
    answers["rank refused"] = server.post(
        "/rank", {"request": {**LIST, "as_of": "2026-10-31"}}, role="planner"
    )
    for route, response in answers.items():
        assert response.status_code < 500, (route, response.text)
        assert response.headers.get("cache-control") == "no-store", (route, response.headers)


def test_no_answer_names_the_framework_or_its_version(server) -> None:
    version = importlib.metadata.version("bentoml")
    document = server.get("/docs.json", role=None)
    answers = [
        document,
        server.get("/readyz", role=None),
        server.get("/planner/", role=None),
        server.get("/no-such-route", role=None),
        server.post("/score", {"request": {}}, role=None),
        server.post("/score", {"request": {}}, role="service"),
        server.post("/model", {}, role="admin"),
        server.post("/rank", {"request": LIST}, role="planner"),
        server.get("/planner/export.csv", role="planner", params=LIST),
    ]
    for response in answers:
        for name, value in response.headers.multi_items():
            assert version not in f"{name}: {value}", (response.url, name, value)
            assert "bentoml" not in value.lower(), (response.url, name, value)
    assert document.status_code == 200
    assert version not in document.text and "bentoml" not in document.text.lower()
