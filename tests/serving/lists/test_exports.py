"""The CSV and XLSX a planner opens hold text and numbers, never a formula (OWASP, CSV injection)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from serving.lists.exports import FORMULA_STARTS, inert_csv_cell, to_csv, to_xlsx, write_text_cell
from serving.lists.ranking import OutreachList, outreach_list
from serving.records.store import Override

DELIVERED_IDS = ["=1+1", "+821012345678", "-7", "@SUM(A1:A9)", "\tH1", "\rH2", "H3"]
"""Household ids the contract accepts (any non-empty text), one per character a spreadsheet
reads as the start of a formula, and one plain."""
TYPED_REASONS = {
    "=1+1": '=HYPERLINK("http://example.invalid","확인")',
    "+821012345678": "+82 10 1234 5678 연락 요망",
    "-7": "-1주 입원, 퇴원 후 방문",
    "@SUM(A1:A9)": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tH1": "\t=1+1",
    "\rH2": "\r=1+1",
    "H3": '이웃 신고\r=HYPERLINK("http://example.invalid")',
}
"""A planner's override reason per household, each starting the way its id starts (the last one
hides a formula after a line break, where a loosely quoted CSV would start a row)."""


def _listed() -> OutreachList:
    """A district's list whose delivered ids and dongs and whose typed reasons start like formulas."""
    frame = pd.DataFrame({"household_id": DELIVERED_IDS})
    frame["risk"] = [0.9 - 0.1 * slot for slot in range(len(frame))]
    frame["rank"] = range(1, len(frame) + 1)
    frame["gu"], frame["round_date"] = "관악구", pd.Timestamp("2026-07-31")
    frame["dong_code"] = ["=A1", "+1", "-1162052500", "@A1", "1162052500", "1162052500", "1162052500"]
    frame["percentile"], frame["band"], frame["model_version"] = 50.0, "high", "3"
    frame["reasons"] = [
        [{"code": "x", "feature": "x", "text_ko": "x 사유", "text_en": "x reason"}] for _ in range(len(frame))
    ]
    decisions = {
        household: Override(household, "include", reason, "team", "t")
        for household, reason in TYPED_REASONS.items()
    }
    return outreach_list(frame, None, "관악구", None, len(frame), decisions)


def _csv_rows(listed: OutreachList) -> list[dict[str, str]]:
    text = to_csv(listed).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _typed(cell: str) -> str:
    """What was typed, from a CSV cell: the apostrophe that kept a formula inert taken off."""
    return cell[1:] if cell.startswith("'") else cell


def test_the_list_keeps_the_delivered_ids_and_typed_reasons_as_they_came() -> None:
    rows = _listed().rows.set_index("household_id")
    assert set(rows.index) == set(DELIVERED_IDS)
    assert rows["override_reason"].to_dict() == TYPED_REASONS


def test_no_csv_cell_starts_like_a_formula_and_each_reads_back_as_typed_after_its_apostrophe() -> None:
    rows = _csv_rows(_listed())
    assert len(rows) == len(DELIVERED_IDS)
    for row in rows:
        assert not any(value.startswith(FORMULA_STARTS) for value in row.values()), row
    typed = {_typed(row["가구번호"]): _typed(row["조정 사유"]) for row in rows}
    assert typed == TYPED_REASONS
    assert {row["가구번호"] for row in rows} == {"'" + h for h in DELIVERED_IDS[:-1]} | {"H3"}
    assert {row["행정동 코드"] for row in rows} >= {"'=A1", "'+1", "'-1162052500", "'@A1", "1162052500"}
    assert {row["행정동"] for row in rows} >= {"보라매동", "행정동 미상 (=A1)"}  # a name, never a bare code


def test_no_xlsx_cell_is_a_formula_and_text_reads_back_exactly_as_typed() -> None:
    listed = _listed()
    sheet = load_workbook(io.BytesIO(to_xlsx(listed, "=관악구 · 2026-07-31"))).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert cells and all(cell.data_type != "f" for cell in cells)
    assert all(
        cell.quotePrefix for cell in cells if isinstance(cell.value, str) and cell.value[:1] in "=+-@\t\r"
    )
    header = [cell.value for cell in sheet[2]]
    body = [
        dict(zip(header, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=3)
    ]
    # XML reads a carriage return back as a line feed; every other character comes back as typed.
    as_xml_reads = {h.replace("\r", "\n"): r.replace("\r", "\n") for h, r in TYPED_REASONS.items()}
    assert {row["가구번호"]: row["조정 사유"] for row in body} == as_xml_reads
    assert sheet["A1"].value == "=관악구 · 2026-07-31" and sheet["A1"].data_type == "s"


def test_numbers_stay_numeric_cells_and_are_never_quoted() -> None:
    listed = _listed()
    sheet = load_workbook(io.BytesIO(to_xlsx(listed, "관악구"))).active
    header = [cell.value for cell in sheet[2]]
    for name in ("순위", "위험도"):
        column = header.index(name) + 1
        assert all(sheet.cell(row=r, column=column).data_type == "n" for r in range(3, sheet.max_row + 1))
    assert [float(row["위험도"]) for row in _csv_rows(listed)] == [90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0]


@pytest.mark.parametrize("number", [-0.25, -3, 0, 12.5])
def test_a_negative_number_is_a_number_not_text_that_starts_with_minus(number: float) -> None:
    assert inert_csv_cell(number) == number
    cell = Workbook().active.cell(row=1, column=1, value=number)
    write_text_cell(cell)
    assert cell.data_type == "n" and cell.value == number and not cell.quotePrefix


def test_text_openpyxl_would_read_as_an_error_code_stays_text() -> None:
    cell = Workbook().active.cell(row=1, column=1, value="#N/A")
    write_text_cell(cell)
    assert cell.data_type == "s" and not cell.quotePrefix


def test_a_delivered_id_with_a_control_character_still_makes_a_workbook() -> None:
    frame = pd.DataFrame({"household_id": ["H\x01bell", "H2"], "risk": [0.9, 0.8], "rank": [1, 2]})
    frame["gu"], frame["round_date"], frame["dong_code"] = "관악구", pd.Timestamp("2026-07-31"), "1162052500"
    frame["percentile"], frame["band"], frame["model_version"] = 50.0, "high", "3"
    frame["reasons"] = [[] for _ in range(len(frame))]
    listed = outreach_list(frame, None, "관악구", None, 2, {})
    sheet = load_workbook(io.BytesIO(to_xlsx(listed, "목록"))).active
    ids = [row[2] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert ids == ["H\ufffdbell", "H2"]


def test_every_text_cell_is_quoted_so_a_separator_inside_it_cannot_start_a_cell() -> None:
    frame = pd.DataFrame({"household_id": ["H1", "H2"], "risk": [0.9, 0.8], "rank": [1, 2]})
    frame["gu"], frame["round_date"], frame["dong_code"] = "관악구", pd.Timestamp("2026-07-31"), "1162052500"
    frame["percentile"], frame["band"], frame["model_version"] = 50.0, "high", "3"
    frame["reasons"] = [[] for _ in range(len(frame))]
    decisions = {"H1": Override("H1", "include", "확인;=cmd|' /C calc'!A0", "team", "t")}
    text = to_csv(outreach_list(frame, None, "관악구", None, 2, decisions)).decode("utf-8-sig")
    assert "\"확인;=cmd|' /C calc'!A0\"" in text  # one quoted cell, whatever the reader's separator
    first = text.splitlines()[1].split(",")
    assert first[1] == "1" and first[5] == "90.0"  # rank and risk: numbers, bare


def test_every_csv_row_carries_what_its_list_is_expected_to_find() -> None:
    listed = _listed()
    rows = _csv_rows(listed)
    expected = listed.expected
    assert expected.expected == pytest.approx(sum(0.9 - 0.1 * slot for slot in range(len(DELIVERED_IDS))))
    for row in rows:
        assert float(row["목록 예상 발견"]) == round(expected.expected, 1)
        assert (int(row["예상 범위 하한"]), int(row["예상 범위 상한"])) == (expected.low, expected.high)
    assert expected.low < expected.expected < expected.high


def test_the_workbook_holds_the_same_expected_finds_as_its_title() -> None:
    listed = _listed()
    sheet = load_workbook(io.BytesIO(to_xlsx(listed, listed.expected.sentence_ko))).active
    header = [cell.value for cell in sheet[2]]
    first = dict(zip(header, [cell.value for cell in sheet[3]], strict=True))
    assert sheet["A1"].value == listed.expected.sentence_ko
    assert first["목록 예상 발견"] == round(listed.expected.expected, 1)
    assert (first["예상 범위 하한"], first["예상 범위 상한"]) == (listed.expected.low, listed.expected.high)
