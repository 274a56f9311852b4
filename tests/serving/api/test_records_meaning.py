"""What the records say stays true: a past round's list stays as planners saw it, whatever planners
send now; a retried request is stored once.

These tests write lasting records (visits cannot be taken back), so they run against a server
with records of their own, not the shared one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from serving.records.known import SEOUL
from serving.records.store import Records
from serving.scoring.rounds import scores_path
from tests.support.served import PREVIOUS, running_server


@pytest.fixture(scope="module")
def own_server(served, tmp_path_factory):
    with running_server(served, tmp_path_factory.mktemp("own-records")) as running:
        yield running


@pytest.fixture(scope="module")
def june(served) -> pd.DataFrame:
    return pd.read_parquet(scores_path(served.data, PREVIOUS, served.version))


def _june_list(server, gu: str) -> bytes:
    body = {"request": {"gu": gu, "capacity": 10, "recheck_capacity": 3, "as_of": str(PREVIOUS.date())}}
    answer = server.post("/rank", body, role="planner")
    assert answer.status_code == 200, answer.text
    return answer.content


def test_a_back_dated_exclusion_by_a_planner_is_refused_and_an_admin_correction_is_kept(
    own_server, june
) -> None:
    household = june.sort_values("rank")["household_id"].iloc[0]
    exclusion = {"household_id": household, "action": "exclude", "reason": "사례관리 중"}
    body = {"request": {"overrides": [exclusion], "round_date": str(PREVIOUS.date())}}
    refused = own_server.post("/outcomes", body, role="planner")
    assert refused.status_code == 422 and refused.json()["code"] == "round_closed", refused.text
    assert refused.json()["field"] == "round_date"
    corrected = own_server.post("/outcomes", body, role="admin")
    assert corrected.status_code == 200, corrected.text
    # Nobody else can write the mark a correction carries.
    posing = {"household_id": household, "action": "exclude", "reason": "[정정 admin-kim] 사망 확인"}
    faked = own_server.post("/outcomes", {"request": {"overrides": [posing]}}, role="planner")
    assert faked.status_code == 422 and faked.json()["field"] == "overrides[0].reason", faked.text
    # The correction shows with the decision wherever June's list is read, marked as one.
    gu = june.set_index("household_id").loc[household, "gu"]
    june_list = own_server.post(
        "/rank", {"request": {"gu": gu, "capacity": 10, "as_of": str(PREVIOUS.date())}}, role="planner"
    ).json()
    [shown] = [x for x in june_list["excluded"] if x["household_id"] == household]
    assert shown["reason"] == "[정정 test-admin] 사례관리 중" and shown["excluded_by"] == "test-admin"
    audit = Records(own_server.records).table("audit")
    row = audit[audit["endpoint"] == "outcomes.correction"].iloc[-1]
    assert row["caller"] == "test-admin" and household in row["households"] and "2026-06-30" in row["detail"]
    withdraw = {"household_id": household, "action": "withdraw", "reason": "test"}
    both = {"request": {"overrides": [withdraw], "round_date": str(PREVIOUS.date())}}
    assert own_server.post("/outcomes", both, role="admin").status_code == 200
    listed = CliRunner().invoke(
        app,
        ["records", "corrections", "--data", str(own_server.served.data)],
        env={"ANBU_RECORDS_URL": str(own_server.records)},
    )
    assert listed.exit_code == 0, listed.output
    assert "test-admin corrected the round 2026-06-30" in listed.output and household in listed.output


def test_the_june_list_read_after_any_planner_requests_is_what_was_served_in_june(own_server, june) -> None:
    gu = june["gu"].value_counts().index[0]
    listed = june[june["gu"] == gu].sort_values("rank")["household_id"].tolist()
    before = _june_list(own_server, gu)
    top, second, third = listed[0], listed[1], listed[2]
    sequence = [
        # a visit dated in June, recorded now, that found the top household at risk
        {"visits": [{"household_id": top, "visited_on": "2026-06-20", "outcome": "at_risk"}]},
        # decisions for the served round
        {"overrides": [{"household_id": second, "action": "exclude", "reason": "입원 중"}]},
        {"overrides": [{"household_id": third, "action": "in_care", "reason": "동 주민센터 돌봄"}]},
        {"overrides": [{"household_id": listed[20], "action": "include", "reason": "이웃 신고"}]},
    ]
    for request in sequence:
        answer = own_server.post("/outcomes", {"request": request}, role="planner")
        assert answer.status_code == 200, answer.text
    june_again = _june_list(own_server, gu)
    assert june_again == before
    now = own_server.post(
        "/rank", {"request": {"gu": gu, "capacity": 10, "recheck_capacity": 3}}, role="planner"
    )
    shown = {h["household_id"]: h for h in now.json()["households"]}
    assert second not in shown and second in {x["household_id"] for x in now.json()["excluded"]}
    assert top not in shown or shown[top]["on_list"] == "recheck"  # the round being served knows it


def test_a_retried_outcomes_request_is_stored_once_with_the_same_answer(own_server, june) -> None:
    household = june.sort_values("rank")["household_id"].iloc[40]
    body = {
        "request": {"visits": [{"household_id": household, "visited_on": "2026-07-30", "outcome": "moved"}]}
    }
    key = {"Idempotency-Key": "f0d6c1e2-2f5b-4f0e-9a77-2d3c1b7a9e11"}
    first = own_server.post("/outcomes", body, role="planner", headers=key)
    again = own_server.post("/outcomes", body, role="planner", headers=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert (
        first.json()
        == again.json()
        == {"recorded_visits": 1, "recorded_overrides": 0, "unknown_household_ids": []}
    )
    assert again.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    visits = Records(own_server.records).table("visit_outcomes")
    assert (visits["household_id"] == household).sum() == 1
    other = {
        "request": {"visits": [{"household_id": household, "visited_on": "2026-07-29", "outcome": "moved"}]}
    }
    reused = own_server.post("/outcomes", other, role="planner", headers=key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    malformed = own_server.post("/outcomes", body, role="planner", headers={"Idempotency-Key": "two words"})
    assert malformed.status_code == 400 and malformed.json()["field"] == "idempotency-key"
    # Keys are the caller's own: another key's same Idempotency-Key is another request.
    by_admin = own_server.post("/outcomes", body, role="admin", headers=key)
    assert by_admin.status_code == 200 and "idempotent-replayed" not in by_admin.headers


def test_survey_labels_come_only_from_a_sample_recorded_beforehand(own_server, june, tmp_path) -> None:
    drawn, chosen = june.sort_values("rank")["household_id"].iloc[[60, 61]]
    # Visited today: a sample recorded now was drawn before today's visit, not before one in July.
    today = dt.datetime.now(SEOUL).date()  # the city's day, as the sample's is kept
    visit = {"visited_on": today.isoformat(), "outcome": "not_isolated", "trigger": "survey"}
    for role in ("planner", "admin"):
        refused = own_server.post(
            "/outcomes", {"request": {"visits": [{**visit, "household_id": drawn}]}}, role=role
        )
        assert refused.status_code == 422, refused.text
        assert (refused.json()["field"], refused.json()["code"]) == (
            "visits[0].trigger",
            "not_in_survey_sample",
        )
    sample = tmp_path / "sample.csv"
    sample.write_text(f"household_id\n{drawn}\n", encoding="utf-8")
    recorded = CliRunner().invoke(
        app,
        [
            "records",
            "survey-sample",
            "--data",
            str(own_server.served.data),
            "--sweep",
            "2026-07 관악구 전수조사",
            "--households",
            str(sample),
            "--by",
            "조사팀",
        ],
        env={"ANBU_RECORDS_URL": str(own_server.records)},
    )
    assert recorded.exit_code == 0 and "1 households recorded" in recorded.output, recorded.output
    taken = own_server.post(
        "/outcomes", {"request": {"visits": [{**visit, "household_id": drawn}]}}, role="planner"
    )
    assert taken.status_code == 200, taken.text
    # The sample is what the sweep drew, not whatever a planner would like to label "survey".
    other = own_server.post(
        "/outcomes", {"request": {"visits": [{**visit, "household_id": chosen}]}}, role="planner"
    )
    assert other.status_code == 422 and other.json()["code"] == "not_in_survey_sample"
    listed = Records(own_server.records).table("survey_samples")
    assert listed["household_id"].tolist() == [drawn] and listed["recorded_by"].tolist() == ["조사팀"]
    # A visit before the draw was not chosen by it.
    yesterday = {**visit, "household_id": drawn, "visited_on": (today - dt.timedelta(days=1)).isoformat()}
    before = own_server.post("/outcomes", {"request": {"visits": [yesterday]}}, role="planner")
    assert before.status_code == 422 and f"drawn only on {today}, after the visit" in before.json()["error"]


def test_a_sweep_long_past_vouches_for_no_survey_visit_today(own_server, june, monkeypatch) -> None:
    household = june.sort_values("rank")["household_id"].iloc[70]
    today = dt.datetime.now(SEOUL).date()
    long_ago = today - dt.timedelta(days=200)
    monkeypatch.setattr("serving.records.store._now", lambda: f"{long_ago}T03:00:00.000+00:00")
    Records(own_server.records).record_survey_sample([household], "2025 관악구 전수조사", "조사팀")
    visit = {
        "household_id": household,
        "visited_on": today.isoformat(),
        "outcome": "isolated",
        "trigger": "survey",
    }
    refused = own_server.post("/outcomes", {"request": {"visits": [visit]}}, role="planner")
    assert refused.status_code == 422 and refused.json()["code"] == "not_in_survey_sample"
    assert f"last drawn on {long_ago}, more than 180 days before the visit" in refused.json()["error"]
    # The same draw vouches for a visit made within its sweep's season.
    within = {**visit, "visited_on": (long_ago + dt.timedelta(days=30)).isoformat()}
    taken = own_server.post("/outcomes", {"request": {"visits": [within]}}, role="planner")
    assert taken.status_code == 200, taken.text
