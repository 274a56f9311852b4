"""Every answer that names a household is audited with exactly the households it names, and an
answer that names none adds no audit row: a walk over every route of the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
from openpyxl import load_workbook

from serving.records.store import Records
from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND

PUBLIC = {"/", "/livez", "/readyz", "/docs.json", "/planner/", "/metrics", "/healthz", "/schema.json"}
"""Paths that name no household whoever asks (the metrics are counts)."""


def _ids_in(answer: object) -> set[str]:
    """Every `household_id` value anywhere in a JSON answer."""
    if isinstance(answer, dict):
        found = {answer["household_id"]} if isinstance(answer.get("household_id"), str) else set()
        return found.union(*(_ids_in(value) for value in answer.values()))
    if isinstance(answer, list):
        return set().union(*(_ids_in(value) for value in answer))
    return set()


def _file_ids(kind: str, content: bytes) -> set[str]:
    if kind == "csv":
        rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        return {row["가구번호"].removeprefix("'") for row in rows}
    sheet = load_workbook(io.BytesIO(content)).active
    header = [cell.value for cell in sheet[2]]
    column = header.index("가구번호")
    return {row[column] for row in sheet.iter_rows(min_row=3, values_only=True)}


def test_every_route_audits_exactly_the_households_its_answer_names(server) -> None:
    scored = pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))
    ids = scored.sort_values("rank")["household_id"].head(3).tolist()
    records = Records(server.records)
    # An exclusion, so `rank` names an excluded household too (taken back at the end).
    top = scored[scored["gu"] == DISTRICT].sort_values("rank")["household_id"].iloc[0]
    exclusion = {"household_id": top, "action": "exclude", "reason": "감사 확인"}
    assert server.post("/outcomes", {"request": {"overrides": [exclusion]}}, role="admin").status_code == 200
    try:
        _walk(server, records, ids, top)
    finally:  # the shared server's other tests must not meet this exclusion
        withdraw = {"household_id": top, "action": "withdraw", "reason": "감사 확인 끝"}
        assert (
            server.post("/outcomes", {"request": {"overrides": [withdraw]}}, role="admin").status_code == 200
        )


def _walk(server, records: Records, ids: list[str], top: str) -> None:
    rank_body = {"request": {"gu": DISTRICT, "capacity": 15, "recheck_capacity": 3}}
    calls = {
        "/score": lambda: server.post(
            "/score", {"request": {"household_ids": [*ids, "H99999999"]}}, role="service"
        ),
        "/score_features": lambda: server.post(
            "/score_features",
            {"request": {"households": [{"household_id": "MY-REF-1", "features": {}}]}},
            role="service",
        ),
        "/rank": lambda: server.post("/rank", rank_body, role="planner"),
        "/planner/export.{kind}": None,  # both kinds below
        "/outcomes": lambda: server.post(
            "/outcomes",
            {
                "request": {
                    "visits": [{"household_id": ids[0], "visited_on": "2026-07-30", "outcome": "moved"}]
                }
            },
            role="planner",
        ),
        "/key_scope": lambda: server.post("/key_scope", {}, role="planner"),
        "/model": lambda: server.post("/model", {}, role="planner"),
        "/reload": lambda: server.post("/reload", {}, role="admin"),
        # Shapes and per-district counts: no household is named, so nothing is revealed.
        "/planner/map": lambda: server.get(f"/planner/map?gu={DISTRICT}", role="planner"),
        "/planner/city": lambda: server.get("/planner/city?capacity=15", role="admin"),
    }
    documented = set(server.get("/docs.json", role=None).json()["paths"])
    assert documented - PUBLIC == set(calls), "a new route: say here what its answer names"

    walked = {}
    left_only: set[str] = set()
    for path, call in calls.items():
        exports = (
            [(f"export.{kind}", kind) for kind in ("csv", "xlsx")]
            if call is None
            else [(path.strip("/"), None)]
        )
        for endpoint, kind in exports:
            before = len(records.table("audit"))
            if kind is None:
                answer = call()
                assert answer.status_code == 200, (path, answer.text)
                named = _ids_in(answer.json()) - ({"MY-REF-1"} if path == "/score_features" else set())
                if path == "/rank":
                    shown = {
                        h["household_id"] for h in answer.json()["households"] + answer.json()["excluded"]
                    }
                    left_only = {h["household_id"] for h in answer.json()["left_the_list"]} - shown
            else:
                answer = server.get(
                    f"/planner/{endpoint}?gu={DISTRICT}&capacity=15&recheck_capacity=3", role="planner"
                )
                assert answer.status_code == 200, (endpoint, answer.text)
                named = _file_ids(kind, answer.content)
            audit = records.table("audit").iloc[before:]
            audited = [set(json.loads(row)) for row in audit["households"]]
            walked[endpoint] = (named, audited)
            if named:
                assert audited == [named], (endpoint, named ^ set().union(*audited))
            else:
                assert all(not households for households in audited), (endpoint, audited)
    assert top in walked["rank"][0]  # the excluded household is named, and so audited
    assert left_only, "the walk needs a household that only left the list, to check it is audited"
    assert walked["score_features"][1] == [set()]  # who scored, but no stored household read
