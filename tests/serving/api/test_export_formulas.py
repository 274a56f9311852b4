"""Text a planner types that starts like a formula: the API keeps it as typed, the downloads keep it
inert (OWASP, CSV injection), over the real server."""

from __future__ import annotations

import csv
import io
import sqlite3

import pandas as pd
import pytest
from openpyxl import load_workbook

from serving.lists.exports import FORMULA_STARTS
from serving.scoring.rounds import scores_path
from tests.support.served import DISTRICT, ROUND

TYPED = [
    '=HYPERLINK("http://example.invalid","확인")',
    "+82 10 1234 5678 연락 요망",
    "-1주 입원, 퇴원 후 방문",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    '이웃 신고\r=HYPERLINK("http://example.invalid")',
]
"""Override reasons and visit notes the API accepts, each starting (or, the last, going on after a
line break) the way a spreadsheet reads a formula."""


@pytest.fixture(scope="module")
def scored(server) -> pd.DataFrame:
    return pd.read_parquet(scores_path(server.served.data, ROUND, server.served.version))


def test_typed_formulas_come_back_from_the_api_as_typed_and_leave_in_downloads_as_inert_text(
    server, scored
) -> None:
    gu = sorted(set(scored["gu"]) - {DISTRICT})[-1]
    district = scored[scored["gu"] == gu].sort_values("rank")
    households = district["household_id"].iloc[40 : 40 + len(TYPED)].tolist()
    typed = dict(zip(households, TYPED, strict=True))
    body = {
        "overrides": [{"household_id": h, "action": "include", "reason": r} for h, r in typed.items()],
        # not_isolated: a finding that makes nobody known, so no other test's list changes
        "visits": [
            {"household_id": h, "visited_on": "2026-08-03", "outcome": "not_isolated", "note": r}
            for h, r in typed.items()
        ],
    }
    recorded = server.post("/outcomes", {"request": body}, role="planner")
    try:
        assert recorded.status_code == 200, recorded.text
        listed = server.post("/rank", {"request": {"gu": gu, "capacity": 10}}, role="planner").json()
        reasons = {h["household_id"]: h["override_reason"] for h in listed["households"]}
        assert {h: reasons[h] for h in households} == typed
        with sqlite3.connect(server.records) as db:
            stored = db.execute("SELECT household_id, note FROM visit_outcomes").fetchall()
        notes = {household: note for household, note in stored if household in typed}
        assert notes == typed  # stored as typed; no CSV or XLSX the project writes shows notes

        params = {"gu": gu, "capacity": 10}
        exported = server.get("/planner/export.csv", role="planner", params=params)
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
        assert len(rows) == 10
        assert not [value for row in rows for value in row.values() if value.startswith(FORMULA_STARTS)]
        shown = {row["가구번호"]: row["조정 사유"] for row in rows if row["가구번호"] in typed}
        assert shown == {h: ("'" + r if r.startswith(FORMULA_STARTS) else r) for h, r in typed.items()}

        workbook = server.get("/planner/export.xlsx", role="planner", params=params)
        sheet = load_workbook(io.BytesIO(workbook.content)).active
        assert not [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
        header = [cell.value for cell in sheet[2]]
        cells = {
            row[header.index("가구번호")].value: row[header.index("조정 사유")]
            for row in sheet.iter_rows(min_row=3)
        }
        # XML reads a carriage return back as a line feed; all else comes back as typed.
        assert {h: cells[h].value for h in households} == {h: r.replace("\r", "\n") for h, r in typed.items()}
        assert all(cells[h].data_type == "s" for h in households)
    finally:
        withdraw = [{"household_id": h, "action": "withdraw", "reason": "테스트 정리"} for h in households]
        server.post("/outcomes", {"request": {"overrides": withdraw}}, role="planner")
