"""The real BentoML server over HTTP: keys and roles, scores, lists, outcomes, audit, downloads."""

from __future__ import annotations

import io
import sqlite3

import pandas as pd
import pytest
from openpyxl import load_workbook

from serving.scoring.households import read_manifest
from serving.scoring.rounds import scores_path
from tests.support.served import ROUND, found_within_a_year


@pytest.fixture(scope="module")
def scored(server) -> pd.DataFrame:
    return pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))


def _audit(server) -> pd.DataFrame:
    with sqlite3.connect(server.records) as db:
        return pd.read_sql_query("SELECT * FROM audit ORDER BY id", db)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/score", {"request": {"household_ids": ["H1"]}}),
        ("/rank", {"request": {"gu": "관악구", "capacity": 3}}),
        ("/outcomes", {"request": {}}),
        ("/reload", {}),
    ],
)
def test_protected_routes_need_a_key(server, path: str, body: dict) -> None:
    response = server.post(path, body, role=None)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]
    assert server.post(path, body, role=None, headers={"X-API-Key": "not-a-key"}).status_code == 401


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/score", "planner"),
        ("/score_features", "planner"),
        ("/rank", "service"),
        ("/outcomes", "service"),
        ("/reload", "planner"),
    ],
)
def test_a_key_without_the_role_gets_403(server, path: str, role: str) -> None:
    response = server.post(path, {}, role=role)
    assert response.status_code == 403
    assert role in response.json()["error"]


def test_score_returns_the_batch_scores_and_reports_unknown_ids_per_id(server, scored) -> None:
    top = scored.head(3)
    ids = [*top["household_id"], "H99999999"]
    response = server.post("/score", {"request": {"household_ids": ids}}, role="service")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == server.served.version
    assert body["unknown_household_ids"] == ["H99999999"]
    got = {s["household_id"]: s for s in body["scores"]}
    for row in top.itertuples():
        assert got[row.household_id]["risk"] == pytest.approx(row.risk)
        assert got[row.household_id]["rank"] == row.rank
        assert got[row.household_id]["band"] == row.band
        assert 1 <= len(got[row.household_id]["reasons"]) <= 4
        assert got[row.household_id]["reasons"][0]["text_ko"] == row.reasons[0]["text_ko"]
    audit = _audit(server)
    last = audit[audit["endpoint"] == "score"].iloc[-1]
    assert last["caller"] == "test-service" and "H99999999" not in last["households"]
    assert top["household_id"].iloc[0] in last["households"]


def test_score_features_scores_a_payload_and_refuses_unknown_feature_names(server, scored) -> None:
    model = server.post("/model", {}, role="service").json()
    names = [f["name"] for f in model["features"]]
    row = {
        "household_id": "caller-ref-1",
        "features": {"lives_alone": 1.0, "age": 71.0, "crisis_utility_3m": 2.0},
    }
    response = server.post("/score_features", {"request": {"households": [row]}}, role="service")
    assert response.status_code == 200
    body = response.json()
    assert body["scores"][0]["household_id"] == "caller-ref-1"
    assert 0 < body["scores"][0]["risk"] < 1
    assert set(body["features_missing"]) == set(names) - {"lives_alone", "age", "crisis_utility_3m"}
    bad = {"households": [row, {"features": {"not_a_feature": 1.0}}]}
    refused = server.post("/score_features", {"request": bad}, role="service")
    assert refused.status_code == 422
    assert refused.json()["field"] == "households[1].features"


def test_rank_gives_the_discovery_list_of_households_no_recent_visit_found(server, scored) -> None:
    gu = scored["gu"].iloc[0]
    response = server.post("/rank", {"request": {"gu": gu, "capacity": 10}}, role="planner")
    assert response.status_code == 200
    body = response.json()
    found = found_within_a_year(server.served.data)
    district = scored[scored["gu"] == gu].sort_values("rank")
    expected = district[~district["household_id"].isin(found)]["household_id"].head(10).tolist()
    assert [h["household_id"] for h in body["households"]] == expected
    assert {h["on_list"] for h in body["households"]} == {"discovery"}
    assert (body["discovery_capacity"], body["recheck_capacity"], body["known_window_days"]) == (10, 0, 365)
    assert body["known_in_area"] == len(set(district["household_id"]) & found)
    assert all("no visit in the last 12 months" in h["list_why_en"] for h in body["households"])
    assert body["previous_round"] == "2026-06-30"
    assert all(h["change"] in {"new", "risen", "fallen", "steady"} for h in body["households"])
    assert all(1 <= len(h["reasons"]) <= 4 for h in body["households"])
    finds = body["expected_finds"]
    assert finds["households"] == 10
    assert finds["expected"] == pytest.approx(sum(h["risk"] for h in body["households"]), abs=0.01)
    assert finds["low"] <= finds["expected"] <= finds["high"] and "발견 예상" in finds["sentence_ko"]
    audit = _audit(server)
    assert audit["endpoint"].iloc[-1] == "rank" and audit["role"].iloc[-1] == "planner"


def test_the_planner_gives_part_of_the_capacity_to_rechecking_known_households(server, scored) -> None:
    found = found_within_a_year(server.served.data)
    gu = scored[scored["household_id"].isin(found)]["gu"].value_counts().index[0]  # most known
    body = server.post(
        "/rank", {"request": {"gu": gu, "capacity": 10, "recheck_capacity": 4}}, role="planner"
    ).json()
    rechecks = min(4, body["known_in_area"])
    assert rechecks >= 2
    lists = [h["on_list"] for h in body["households"]]
    assert lists == ["discovery"] * 6 + ["recheck"] * rechecks
    recheck = [h for h in body["households"] if h["on_list"] == "recheck"]
    assert all(h["household_id"] in found and "found isolation or risk" in h["list_why_en"] for h in recheck)
    assert [h["list_rank"] for h in recheck] == list(range(1, rechecks + 1))
    over = server.post("/rank", {"request": {"gu": gu, "capacity": 3, "recheck_capacity": 4}}, role="planner")
    assert over.status_code == 422 and over.json()["field"] == "recheck_capacity"


def test_a_household_marked_in_care_moves_to_the_recheck_side_until_the_mark_ends(server, scored) -> None:
    gu = sorted(set(scored["gu"]) - {scored["gu"].iloc[0], "관악구"})[0]
    first = server.post("/rank", {"request": {"gu": gu, "capacity": 5}}, role="planner").json()
    top = first["households"][0]["household_id"]
    mark = {"household_id": top, "action": "in_care", "reason": "주 1회 안부 전화"}
    recorded = server.post("/outcomes", {"request": {"overrides": [mark]}}, role="planner")
    assert recorded.status_code == 200 and recorded.json()["recorded_overrides"] == 1
    # Room on the re-check side for every known household of the district, the marked one among them
    known = first["known_in_area"] + 1
    marked = server.post(
        "/rank", {"request": {"gu": gu, "capacity": 5 + known, "recheck_capacity": known}}, role="planner"
    )
    rows = {h["household_id"]: h for h in marked.json()["households"]}
    assert rows[top]["on_list"] == "recheck" and "marked in care by test-planner" in rows[top]["list_why_en"]
    ended = {"household_id": top, "action": "end_care", "reason": "이사"}
    assert server.post("/outcomes", {"request": {"overrides": [ended]}}, role="planner").status_code == 200
    again = server.post("/rank", {"request": {"gu": gu, "capacity": 5}}, role="planner").json()
    assert again["households"][0]["household_id"] == top
    twice = server.post("/outcomes", {"request": {"overrides": [ended]}}, role="planner")
    assert twice.status_code == 422 and twice.json()["field"] == "overrides[0].action"
    assert "not marked in care" in twice.json()["error"]


def test_bad_requests_get_4xx_naming_the_field(server) -> None:
    unknown_gu = server.post("/rank", {"request": {"gu": "없는구", "capacity": 3}}, role="planner")
    assert unknown_gu.status_code == 404 and unknown_gu.json()["field"] == "gu"
    no_capacity = server.post("/rank", {"request": {"gu": "관악구", "capacity": 0}}, role="planner")
    assert no_capacity.status_code == 400
    assert no_capacity.json()["field"] == "capacity" and no_capacity.json()["code"] == "out_of_range"
    malformed = server.post("/score", {}, role="service", content=b"{not json")
    assert 400 <= malformed.status_code < 500
    empty = server.post("/score", {"request": {"household_ids": []}}, role="service")
    assert empty.status_code == 400 and empty.json()["field"] == "household_ids"
    after_served = server.post(
        "/score", {"request": {"household_ids": ["H1"], "as_of": "2026-10-31"}}, role="service"
    )
    assert after_served.status_code == 422 and after_served.json()["field"] == "as_of"
    future = server.post(
        "/score", {"request": {"household_ids": ["H1"], "as_of": "2999-01-31"}}, role="service"
    )
    assert future.status_code == 400 and future.json()["field"] == "as_of"


def test_outcomes_and_overrides_are_stored_and_shape_the_next_list(server, scored) -> None:
    gu = scored["gu"].iloc[0]
    district = scored[scored["gu"] == gu].sort_values("rank")
    first, outsider = district["household_id"].iloc[0], district["household_id"].iloc[50]
    body = {
        "visits": [
            {"household_id": first, "visited_on": "2026-08-03", "outcome": "at_risk", "checklist_score": 6}
        ],
        "overrides": [
            {"household_id": first, "action": "exclude", "reason": "이미 사례관리 중"},
            {"household_id": outsider, "action": "include", "reason": "이웃 신고"},
        ],
    }
    response = server.post("/outcomes", {"request": body}, role="planner")
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded_visits": 1, "recorded_overrides": 2, "unknown_household_ids": []}
    listed = server.post("/rank", {"request": {"gu": gu, "capacity": 5}}, role="planner").json()["households"]
    ids = [h["household_id"] for h in listed]
    assert first not in ids and outsider in ids and len(ids) == 5
    assert next(h for h in listed if h["household_id"] == outsider)["override_reason"] == "이웃 신고"
    unknown = server.post(
        "/outcomes",
        {
            "request": {
                "visits": [{"household_id": "H99999999", "visited_on": "2026-08-01", "outcome": "moved"}]
            }
        },
        role="planner",
    )
    assert unknown.status_code == 422 and unknown.json()["unknown_household_ids"] == ["H99999999"]
    with sqlite3.connect(server.records) as db:
        assert (
            db.execute("SELECT count(*) FROM visit_outcomes WHERE household_id = ?", (first,)).fetchone()[0]
            == 1
        )
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM overrides")
    withdraw = {
        "overrides": [
            {"household_id": h, "action": "withdraw", "reason": "테스트 정리"} for h in (first, outsider)
        ]
    }
    assert server.post("/outcomes", {"request": withdraw}, role="planner").status_code == 200


def test_downloads_are_csv_and_xlsx_for_planners_only(server, scored) -> None:
    gu = scored["gu"].iloc[0]
    params = {"gu": gu, "capacity": 4}
    csv = server.get("/planner/export.csv", role="planner", params=params)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype=str)
    assert list(table.columns[:4]) == ["목록", "순위", "가구번호", "행정동"] and len(table) == 4
    xlsx = server.get("/planner/export.xlsx", role="planner", params=params)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert (sheet["A2"].value, sheet["B2"].value) == ("목록", "순위") and sheet.max_row == 2 + 4
    assert server.get("/planner/export.csv", role="service", params=params).status_code == 403
    assert server.get("/planner/export.csv", role=None, params=params).status_code == 401
    assert _audit(server)["endpoint"].iloc[-1] == "export.xlsx"


def test_model_health_metrics_and_page(server) -> None:
    model = server.post("/model", {}, role="planner").json()
    assert model["model_version"] == server.served.version
    assert model["training_window"]["test_round"] == "2026-07-31"
    assert "model_truth_precision_at_capacity" in model["metrics"]
    assert "model_survey_ece_low" in model["metrics"]
    # what the served round's health check said when it was scored, from the round's manifest
    kept = read_manifest(scores_path(server.served.data, ROUND, server.served.version))["health"]
    assert model["round_health"]["verdict"] == kept["verdict"] in {"clean", "warnings"}
    assert model["round_health"]["warnings"] == kept["warnings"] and model["round_health"]["errors"] == []
    scope = server.post("/key_scope", {}, role="planner").json()
    assert scope["round_health"] == model["round_health"]
    # how it became the champion: the gates' reasons, and who overrode them and why if anyone did
    promotion = model["promotion"]
    assert promotion["basis"] == "survey" and promotion["reasons"]
    if promotion["decision"] == "promoted by override":
        assert promotion["override_by"] == "the serving tests"
        assert promotion["override_reason"].startswith("the gates are tested in tests/training")
    else:
        assert promotion["decision"] == "promoted" and "override_by" not in promotion
    assert server.get("/livez", role=None).status_code == 200
    assert server.get("/metrics", role=None).status_code == 401
    assert "bentoml_service_request" in server.get("/metrics", role="monitor").text
    page = server.get("/planner/", role=None)
    # The page holds no data: its menus come from the key's scope once a key is given.
    assert page.status_code == 200 and "/key_scope" in page.text and "/rank" in page.text
    assert "관악구" not in page.text
    assert server.post("/reload", {}, role="admin").json()["model_version"] == server.served.version
