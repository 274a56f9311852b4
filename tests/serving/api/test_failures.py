"""Bad input is a 4xx naming the field, never a 5xx; what is left of server trouble is a 503/500
with a request id; the service starts or refuses in one sentence."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pandas as pd
import pytest

from serving.scoring.rounds import scores_path
from tests.support.served import ROUND


@pytest.fixture(scope="module")
def scored(server) -> pd.DataFrame:
    return pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))


def _loc(response) -> str:
    """The last name of the field an error answer blames (`overrides[0].reason` -> `reason`)."""
    return str(response.json()["field"]).split(".")[-1]


def test_infinite_feature_values_are_refused_by_field(server) -> None:
    for value in (b"Infinity", b"-Infinity", b"NaN"):
        body = b'{"request": {"households": [{"features": {"age": ' + value + b"}}]}}"
        response = server.post(
            "/score_features", {}, role="service", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (value, response.text)
        assert response.json()["field"].startswith("households[0].features"), response.text


def test_override_reasons_of_spaces_or_control_characters_are_refused(server, scored) -> None:
    household = scored["household_id"].iloc[0]
    for reason in ("   ", "이웃\x00신고", "\x07"):
        body = {
            "request": {"overrides": [{"household_id": household, "action": "include", "reason": reason}]}
        }
        response = server.post("/outcomes", body, role="admin")
        assert response.status_code == 400 and _loc(response) == "reason", (reason, response.text)


INVISIBLE_REASONS = {
    "\u200b": "U+200B",  # a zero-width space: a reason nobody can see
    "\u202e": "U+202E",
    "가족 확인 \u202e음없 험위\u202c 재방문 불필요": "U+202E",  # reads as something other than was typed
    "\u2066확인\u2069": "U+2066",
    "이웃\u2028신고": "U+2028",
    "\u3164": "U+3164",  # the Hangul filler: looks like a space
}


def test_a_reason_or_note_a_reader_cannot_see_as_typed_is_refused_naming_the_character(
    server, scored
) -> None:
    household = scored["household_id"].iloc[0]
    for text, named in INVISIBLE_REASONS.items():
        override = {"household_id": household, "action": "include", "reason": text}
        visit = {"household_id": household, "visited_on": "2026-07-30", "outcome": "moved", "note": text}
        for body, field in (
            ({"overrides": [override]}, "overrides[0].reason"),
            ({"visits": [visit]}, "visits[0].note"),
        ):
            response = server.post("/outcomes", {"request": body}, role="admin")
            assert response.status_code == 400, (text, response.text)
            answer = response.json()
            assert (answer["field"], answer["code"]) == (field, "invisible_characters") and named in answer[
                "error"
            ]
    # What the document's pattern cannot say (above U+FFFF; marks and blank cells alone) is refused
    # by the route on meaning: 422 with the same codes.
    for text, code in (
        ("확인\U000e0041", "invisible_characters"),
        ("\u2800", "blank_text"),
        ("\u0301", "blank_text"),
    ):
        override = {"household_id": household, "action": "include", "reason": text}
        response = server.post("/outcomes", {"request": {"overrides": [override]}}, role="admin")
        assert response.status_code == 422 and response.json()["code"] == code, (text, response.text)
    multi_line = {"household_id": household, "action": "exclude", "reason": "입원\n퇴원 후 재방문"}
    assert server.post("/outcomes", {"request": {"overrides": [multi_line]}}, role="admin").status_code == 200
    withdraw = {"household_id": household, "action": "withdraw", "reason": "test"}
    assert server.post("/outcomes", {"request": {"overrides": [withdraw]}}, role="admin").status_code == 200


def test_dates_outside_the_programme_and_other_spellings_are_refused(server, scored) -> None:
    household = scored["household_id"].iloc[0]
    for day in ("0001-01-01", "1999-12-31", "9999-12-31", "20260801", "2026-08-01T00:00:00", 20260801):
        body = {"request": {"visits": [{"household_id": household, "visited_on": day, "outcome": "refused"}]}}
        response = server.post("/outcomes", body, role="admin")
        assert response.status_code == 400 and _loc(response) == "visited_on", (day, response.text)
    # well formed, but a visit that has not happened yet: refused on meaning, naming the visit
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    visits = [
        {"household_id": household, "visited_on": "2026-07-01", "outcome": "refused"},
        {"household_id": household, "visited_on": soon, "outcome": "refused"},
    ]
    response = server.post("/outcomes", {"request": {"visits": visits}}, role="admin")
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "visits[1].visited_on" and soon in response.json()["error"]


def test_ids_booleans_and_bodies_are_checked_strictly(server) -> None:
    long_id = server.post("/score", {"request": {"household_ids": ["H" * 65]}}, role="service")
    assert long_id.status_code == 400 and long_id.json()["field"] == "household_ids[0]"
    huge = server.post("/score", {"request": {"household_ids": ["H" * 10_000_000]}}, role="service")
    assert huge.status_code == 413 and huge.json()["field"] == "body" and len(huge.content) < 200
    boolean = server.post("/rank", {"request": {"gu": "관악구", "capacity": True}}, role="planner")
    assert boolean.status_code == 400 and _loc(boolean) == "capacity"
    form = server.post(
        "/score", {}, role="service", content=b"x", headers={"content-type": "multipart/form-data"}
    )
    assert form.status_code == 415 and form.json()["field"] == "content-type"


def test_every_route_refuses_a_round_after_the_served_one(server) -> None:
    later = "2026-10-31"
    checks = [
        server.post("/score", {"request": {"household_ids": ["H1"], "as_of": later}}, role="service"),
        server.post("/rank", {"request": {"gu": "관악구", "capacity": 3, "as_of": later}}, role="planner"),
        server.post("/outcomes", {"request": {"round_date": later}}, role="planner"),
        server.get(
            "/planner/export.csv", role="planner", params={"gu": "관악구", "capacity": 3, "as_of": later}
        ),
        server.get(
            "/planner/export.xlsx", role="planner", params={"gu": "관악구", "capacity": 3, "as_of": later}
        ),
    ]
    for response in checks:
        assert response.status_code == 422, response.text
        assert response.json()["field"] in ("as_of", "round_date")


def test_a_records_database_held_by_another_process_is_a_503_with_a_request_id(server, scored) -> None:
    holder = sqlite3.connect(server.records, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    released = threading.Timer(25, holder.rollback)
    released.start()
    try:
        began = time.monotonic()
        response = server.post(
            "/score", {"request": {"household_ids": [scored["household_id"].iloc[0]]}}, role="service"
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        body = response.json()
        assert body["request_id"] and body["request_id"] != "unknown" and "retry" in body["error"]
        assert time.monotonic() - began < 20
    finally:
        released.cancel()
        holder.rollback()
        holder.close()
    log = (server.log).read_text()
    assert f"request {body['request_id']} to score: records unavailable" in log
    assert scored["household_id"].iloc[0] not in log  # no household data in the log
