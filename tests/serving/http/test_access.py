"""Who may call what: every route declared, refused without the right key and scope; a district,
dong or capacity scope holds on every route that returns households; /metrics bounded and
protected; a revoked key stops working on the next request."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from anbu.cli import app
from features.reference import dong_names
from serving.http.access import FRAMEWORK_ROUTES, PUBLIC
from serving.keys.key_file import revoke
from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND

ROLE_KEYS = ("planner", "service", "monitor", "admin")
ALLOWED = {
    "/score": {"service", "admin"},
    "/score_features": {"service", "admin"},
    "/rank": {"planner", "admin"},
    "/outcomes": {"planner", "admin"},
    "/model": {"planner", "service", "monitor", "admin"},
    "/key_scope": {"planner", "service", "monitor", "admin"},
    "/reload": {"admin"},
    "/planner/export.{kind}": {"planner", "admin"},
    "/planner/map": {"planner", "admin"},
    "/planner/city": {"admin"},
    "/metrics": {"monitor", "admin"},
}
PUBLIC_PATHS = {"/planner/", "/", "/docs.json", "/schema.json", "/livez", "/readyz", "/healthz"}


@pytest.fixture(scope="module")
def scored(server) -> pd.DataFrame:
    return pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))


def _call(server, method: str, path: str, role: str | None):
    if method == "post":
        # An empty body: a caller who may not call the route is refused before it is read.
        return server.post(path, {}, role=role)
    return server.get(path.replace("{kind}", "csv"), role=role)


def test_every_route_in_the_openapi_document_is_refused_without_the_right_role(server) -> None:
    document = server.get("/docs.json", role=None).json()
    operations = [(m, p) for p, item in document["paths"].items() for m in item if m in ("get", "post")]
    operations.append(("get", "/metrics"))
    assert {p for _, p in operations} == set(ALLOWED) | (PUBLIC_PATHS & {p for _, p in operations})
    for method, path in operations:
        if path in PUBLIC_PATHS:
            assert _call(server, method, path, None).status_code not in (401, 403), path
            continue
        assert path in ALLOWED, f"{path} is in the document but this test does not know who may call it"
        assert _call(server, method, path, None).status_code == 401, path
        for role in ROLE_KEYS:
            status = _call(server, method, path, role).status_code
            if role in ALLOWED[path]:
                assert status not in (401, 403), (path, role, status)
            else:
                assert status == 403, (path, role, status)


def test_a_path_nobody_declared_is_refused(server) -> None:
    for path in ("/admin", "/planner/secret", "/docs.json/x", "/static", "/metrics/x"):
        response = server.get(path, role="admin")
        assert response.status_code == 404 and response.json()["field"] == "path", path
    assert all(roles for roles in FRAMEWORK_ROUTES.values())
    assert FRAMEWORK_ROUTES["/metrics"] != PUBLIC


LIST_ROUTES = ("/rank", "/planner/export.csv", "/planner/export.xlsx")
"""Every route that answers with a district's (or dong's) list of households."""
DISTRICT_LIMIT = 20
"""The `district` key's max_capacity (tests/support/served.py)."""


@dataclass(frozen=True)
class DongKey:
    key: str
    dong: str
    neighbour: str
    """Another dong of the same district, outside the key's scope."""
    limit: int


@pytest.fixture(scope="module")
def dong_key(server, scored) -> Iterator[DongKey]:
    """A planner key for one dong of DISTRICT and at most 8 households, added by `anbu keys add` to
    the running server's keys file (read again on the next request) and revoked after the module."""
    own, neighbour = scored.loc[scored["gu"] == DISTRICT, "dong_code"].value_counts().index[:2]
    arguments = ["keys", "add", "--data", str(server.served.data), "--name", "dong-team", "--role", "planner"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANBU_KEYS", str(server.keys_file))
        added = CliRunner().invoke(app, [*arguments, "--gu", DISTRICT, "--dong", own, "--max-capacity", "8"])
    assert added.exit_code == 0, added.output
    yield DongKey(added.output.split()[-1], own, neighbour, 8)
    revoke(server.keys_file, "dong-team")


def _headers(server, key: DongKey | str) -> dict:
    return {"X-API-Key": key.key if isinstance(key, DongKey) else server.keys[key]}


def _list(server, route: str, key: DongKey | str, gu: str, dong: str | None, capacity: int = 5):
    headers = _headers(server, key)
    if route == "/rank":
        body = {"request": {"gu": gu, "dong": dong, "capacity": capacity}}
        return server.post(route, body, role=None, headers=headers)
    params = {"gu": gu, "capacity": capacity, **({"dong": dong} if dong else {})}
    return server.get(route, role=None, headers=headers, params=params)


def _listed_households(route: str, response) -> list[str]:
    if route == "/rank":
        return [row["household_id"] for row in response.json()["households"]]
    if route.endswith(".csv"):
        return pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig", dtype=str)["가구번호"].tolist()
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=2, values_only=True))
    column = rows[0].index("가구번호")
    return [str(row[column]) for row in rows[1:]]


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_a_dong_key_gets_its_own_dongs_list_with_only_that_dongs_households(
    server, scored, dong_key, route
) -> None:
    response = _list(server, route, dong_key, DISTRICT, dong_key.dong)
    assert response.status_code == 200, response.text
    listed = _listed_households(route, response)
    assert listed
    assert set(scored.set_index("household_id").loc[listed, "dong_code"]) == {dong_key.dong}


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize("area", ["the whole district", "another dong of it", "another district"])
def test_a_dong_key_is_refused_any_other_area_naming_its_scope(server, scored, dong_key, route, area) -> None:
    other = next(gu for gu in scored["gu"].unique() if gu != DISTRICT)
    gu, dong, field = {
        "the whole district": (DISTRICT, None, "dong"),
        "another dong of it": (DISTRICT, dong_key.neighbour, "dong"),
        "another district": (other, None, "gu"),
    }[area]
    response = _list(server, route, dong_key, gu, dong)
    assert response.status_code == 403, response.text
    assert response.json()["field"] == field
    assert f"{DISTRICT} (dongs {dong_names()[dong_key.dong]} {dong_key.dong})" in response.json()["error"]


def test_a_dong_key_records_outcomes_only_for_households_of_its_dong(server, scored, dong_key) -> None:
    district = scored[scored["gu"] == DISTRICT]
    neighbour = district.loc[district["dong_code"] == dong_key.neighbour, "household_id"].iloc[0]
    own = district.loc[district["dong_code"] == dong_key.dong, "household_id"].iloc[0]

    def visit(household_id: str):
        body = {"visits": [{"household_id": household_id, "visited_on": "2026-08-03", "outcome": "refused"}]}
        return server.post("/outcomes", {"request": body}, role=None, headers=_headers(server, dong_key))

    refused = visit(neighbour)
    assert refused.status_code == 403 and refused.json()["field"] == "household_id"
    assert f"{DISTRICT} (dongs {dong_names()[dong_key.dong]} {dong_key.dong})" in refused.json()["error"]
    assert refused.json()["outside_scope_household_ids"] == [neighbour]
    recorded = visit(own)
    assert recorded.status_code == 200 and recorded.json()["recorded_visits"] == 1


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize("holder", ["district", "dong"])
def test_a_capacity_limited_key_is_refused_a_longer_list_naming_its_limit(
    server, dong_key, route, holder
) -> None:
    key, dong, limit = (
        (dong_key, dong_key.dong, dong_key.limit) if holder == "dong" else ("district", None, DISTRICT_LIMIT)
    )
    too_long = _list(server, route, key, DISTRICT, dong, capacity=limit + 1)
    assert too_long.status_code == 403, too_long.text
    assert too_long.json()["field"] == "capacity"
    assert f"over this key's limit of {limit} households" in too_long.json()["error"]
    at_limit = _list(server, route, key, DISTRICT, dong, capacity=limit)
    assert at_limit.status_code == 200, at_limit.text
    assert 0 < len(_listed_households(route, at_limit)) <= limit


def test_scoped_planner_keys_may_not_score_households(server, scored, dong_key) -> None:
    body = {"request": {"household_ids": [scored["household_id"].iloc[0]]}}
    for key in ("district", dong_key):
        refused = server.post("/score", body, role=None, headers=_headers(server, key))
        assert refused.status_code == 403 and refused.json()["field"] == "x-api-key"


def test_a_district_key_sees_only_its_district_and_its_capacity(server, scored) -> None:
    other = next(gu for gu in scored["gu"].unique() if gu != DISTRICT)
    own = server.post("/rank", {"request": {"gu": DISTRICT, "capacity": 5}}, role="district")
    assert own.status_code == 200 and len(own.json()["households"]) == 5
    refused = server.post("/rank", {"request": {"gu": other, "capacity": 5}}, role="district")
    assert refused.status_code == 403 and refused.json()["field"] == "gu"
    assert DISTRICT in refused.json()["error"]
    too_many = server.post("/rank", {"request": {"gu": DISTRICT, "capacity": 5000}}, role="district")
    assert too_many.status_code == 403 and too_many.json()["field"] == "capacity"
    export = server.get("/planner/export.csv", role="district", params={"gu": other, "capacity": 3})
    assert export.status_code == 403 and export.json()["field"] == "gu"


def test_outcomes_outside_the_scope_and_unknown_ids_get_the_same_answer(server, scored) -> None:
    other = scored.loc[scored["gu"] != DISTRICT, "household_id"].iloc[0]
    inside = scored.loc[scored["gu"] == DISTRICT, "household_id"].iloc[0]

    def visit(household_id: str) -> dict:
        return {
            "request": {
                "visits": [{"household_id": household_id, "visited_on": "2026-08-03", "outcome": "refused"}]
            }
        }

    elsewhere = server.post("/outcomes", visit(other), role="district")
    unregistered = server.post("/outcomes", visit("H99999999"), role="district")
    assert elsewhere.status_code == unregistered.status_code == 403
    assert elsewhere.json()["error"].replace(other, "ID") == unregistered.json()["error"].replace(
        "H99999999", "ID"
    )
    recorded = server.post("/outcomes", visit(inside), role="district")
    assert recorded.status_code == 200 and recorded.json()["recorded_visits"] == 1


def test_a_service_key_limited_to_its_routes(server, scored) -> None:
    body = {"request": {"household_ids": [scored["household_id"].iloc[0]]}}
    assert server.post("/score", body, role="call-centre").status_code == 200
    refused = server.post(
        "/score_features", {"request": {"households": [{"features": {}}]}}, role="call-centre"
    )
    assert refused.status_code == 403 and "/score" in refused.json()["error"]
    assert refused.json()["code"] == "route_not_allowed"
    # What it may do, it may always ask: the answer names its one route.
    scope = server.post("/key_scope", {}, role="call-centre")
    assert (
        scope.status_code == 200 and scope.json()["routes"] == ["/score"] and scope.json()["districts"] == []
    )


def test_metrics_stay_bounded_when_unknown_paths_are_scanned(server) -> None:
    before = server.get("/metrics", role="monitor").text
    for i in range(300):
        server.get(f"/scan-{i}/wp-login.php", role=None)
    # Declared routes keep their own labels, read from the routes' declarations.
    assert server.post("/model", {}, role="admin").status_code == 200
    assert server.get("/planner/", role=None).status_code == 200
    after = server.get("/metrics", role="monitor").text
    assert "scan-1" not in after and 'endpoint="/_other"' in after
    assert 'endpoint="/model"' in after and 'endpoint="/planner/*"' in after
    assert len(after) < len(before) + 20_000


def test_a_revoked_key_stops_working_without_a_restart(server, tmp_path, monkeypatch) -> None:
    from serving.keys.key_file import add_key

    keys_file = server.keys_file
    key = add_key(keys_file, "short-lived", "service")
    body = {"request": {"household_ids": ["H00000001"]}}
    headers = {"X-API-Key": key}
    assert server.post("/score", body, role=None, headers=headers).status_code == 200
    monkeypatch.setenv("ANBU_KEYS", str(keys_file))
    revoked = CliRunner().invoke(
        app, ["keys", "revoke", "--data", str(server.served.data), "--name", "short-lived"]
    )
    assert revoked.exit_code == 0, revoked.output
    assert server.post("/score", body, role=None, headers=headers).status_code == 401
