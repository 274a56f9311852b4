"""Who may call what: every route declared, refused without the right key and scope; /metrics
bounded and protected; a revoked key stops working on the next request."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from serving.api.auth import FRAMEWORK_ROUTES, PUBLIC
from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND

ROLE_KEYS = ("planner", "service", "monitor", "admin")
ALLOWED = {
    "/score": {"service", "admin"},
    "/score_features": {"service", "admin"},
    "/rank": {"planner", "admin"},
    "/outcomes": {"planner", "admin"},
    "/model": {"planner", "service", "monitor", "admin"},
    "/reload": {"admin"},
    "/planner/export.{kind}": {"planner", "admin"},
    "/metrics": {"monitor", "admin"},
}
PUBLIC_PATHS = {"/planner/", "/", "/docs.json", "/livez", "/readyz", "/healthz"}


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


def test_metrics_stay_bounded_when_unknown_paths_are_scanned(server) -> None:
    before = server.get("/metrics", role="monitor").text
    for i in range(300):
        server.get(f"/scan-{i}/wp-login.php", role=None)
    after = server.get("/metrics", role="monitor").text
    assert "scan-1" not in after and 'endpoint="/_other"' in after
    assert len(after) < len(before) + 20_000


def test_a_revoked_key_stops_working_without_a_restart(server, tmp_path, monkeypatch) -> None:
    from serving.api.auth import add_key

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
