"""A ranked list as the files teams open: CSV (UTF-8 with BOM, so Excel shows Hangul) and XLSX.

Every cell holds text or a number, never a formula. Override reasons are typed by people and
household ids and dong codes are delivered by agencies; text such as `=HYPERLINK(...)` is stored
and returned by the API as typed, and only here, where it becomes a spreadsheet cell, is it kept
from being evaluated (OWASP, CSV injection): the CSV cell gets a leading apostrophe, the XLSX cell
is written as a string cell marked the way Excel marks text typed after an apostrophe.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from serving.lists.dong_choice import dong_name
from serving.lists.labels import CHANGE_KO, LIST_KO
from serving.lists.ranking import OutreachList
from serving.scoring.reasons import MAX_REASONS

PLANNER_COLUMNS = {
    "list": "목록",
    "list_rank": "순위",
    "household_id": "가구번호",
    "dong_name": "행정동",
    "dong_code": "행정동 코드",
    "risk": "위험도",
    "band_ko": "위험 등급",
    "change": "변화",
    "list_why_ko": "목록 사유",
    **{f"reason_{slot + 1}_ko": f"사유 {slot + 1}" for slot in range(MAX_REASONS)},
    "override": "담당자 조정",
    "override_reason": "조정 사유",
    "model_version": "모델 버전",
}
LIST_EXPECTED_COLUMNS = {"expected": "목록 예상 발견", "low": "예상 범위 하한", "high": "예상 범위 상한"}
"""What the whole list is expected to find, repeated on every row as the model version is: a CSV has
no title line a case system's importer would skip, so the list's figures travel as columns (the
first data row of a CSV read by itself still says what its list expects)."""
BAND_FILL = {"매우 높음": "F4B6B6", "높음": "F9D9A6", "주의": "FFF2B3", "낮음": "FFFFFF"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""First characters that make a spreadsheet read a cell as a formula, or open the way to one
(OWASP's list, and ASVS's NUL)."""


def looks_like_formula(value: object) -> bool:
    """Text a spreadsheet could evaluate; numbers, negative ones included, are never it."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def inert_csv_cell(value: object) -> object:
    """The value as a CSV cell no spreadsheet evaluates: such text gets a leading apostrophe, which
    Excel and LibreOffice read as "this is text"; everything else is written as it is."""
    return "'" + value if looks_like_formula(value) else value


def write_text_cell(cell: Cell) -> None:
    """Keep a text cell text: openpyxl turns a string starting with "=" into a formula and "#N/A"
    into an error, so its type is set back to string; text that looks like a formula is also
    marked quotePrefix, so Excel keeps it text when someone edits the cell."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if looks_like_formula(cell.value):
            cell.quotePrefix = True


def planner_frame(listed: OutreachList) -> pd.DataFrame:
    """The list with Korean headers, as a planner reads it (English reasons stay in the API): a
    spreadsheet has no lists in a cell, so each reason gets a column of its own, and the list's
    expected finds close each row."""
    frame = listed.rows.copy()
    reasons = frame["reasons"].tolist()
    for slot in range(MAX_REASONS):
        frame[f"reason_{slot + 1}_ko"] = [
            shown[slot]["text_ko"] if len(shown) > slot else None for shown in reasons
        ]
    frame = frame[list(PLANNER_COLUMNS)]
    frame["risk"] = (frame["risk"] * 100).round(1)
    frame["change"] = frame["change"].map(CHANGE_KO).fillna(frame["change"])
    frame["list"] = frame["list"].map(LIST_KO).fillna(frame["list"])
    frame["override"] = frame["override"].map({"include": "포함", "exclude": "제외"}).fillna("")
    frame = frame.rename(columns=PLANNER_COLUMNS)
    expected = listed.expected
    frame[LIST_EXPECTED_COLUMNS["expected"]] = round(expected.expected, 1)
    frame[LIST_EXPECTED_COLUMNS["low"]] = expected.low
    frame[LIST_EXPECTED_COLUMNS["high"]] = expected.high
    return frame


def to_csv(listed: OutreachList) -> bytes:
    """The list as CSV; text that starts like a formula shows its apostrophe, numbers stay bare."""
    frame = planner_frame(listed).astype(object)
    frame = frame.map(inert_csv_cell, na_action="ignore")  # every column: a number is left as it is
    # Every text cell quoted (numbers bare): a separator inside a reason (`확인;=cmd…` read by a
    # spreadsheet set to `;`) cannot start a cell of its own, and with RFC 4180's CRLF rows a line
    # break inside a reason stays in its cell instead of starting a row (and a formula) of its own.
    return frame.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC).encode("utf-8-sig")


def _append_row(sheet: Worksheet, values: list) -> None:
    """Append a row whose text cells stay text (the only way rows enter the workbook). A control
    character XML cannot hold (a delivered id may carry one) is shown as U+FFFD, not a failed file."""
    values = [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in values]
    sheet.append(values)
    row = sheet.max_row
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            write_text_cell(sheet.cell(row=row, column=column))


def list_title(listed: OutreachList, gu: str, dong: str | None, capacity: int) -> str:
    """The one line above a list, in the terminal and in the workbook: area, round, size, and what
    its visits are expected to find."""
    return (
        f"{gu}{' ' + dong_name(dong) if dong else ''} · {listed.round_date} · {len(listed.rows)}가구 "
        f"(정원 {capacity}: 발굴 {listed.discovery_capacity}, 재확인 {listed.recheck_capacity}) · "
        f"{listed.expected.sentence_ko}"
    )


def to_xlsx(listed: OutreachList, title: str) -> bytes:
    """The list as a workbook: every text cell a string cell, the title too, so none is a formula."""
    frame = planner_frame(listed)
    book = Workbook()
    sheet = book.active
    sheet.title = "방문 목록"
    _append_row(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=13)
    _append_row(sheet, list(frame.columns))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    band_column = list(frame.columns).index("위험 등급") + 1
    for values in frame.itertuples(index=False):
        _append_row(sheet, [None if pd.isna(v) else v for v in values])
        fill = BAND_FILL.get(values[band_column - 1], "FFFFFF")
        sheet.cell(row=sheet.max_row, column=band_column).fill = PatternFill("solid", fgColor=fill)
    widths = {
        "사유 1": 34,
        "사유 2": 34,
        "사유 3": 34,
        "사유 4": 34,
        "목록 사유": 40,
        "조정 사유": 24,
        "가구번호": 12,
        "행정동": 14,
        "행정동 코드": 12,
        **dict.fromkeys(LIST_EXPECTED_COLUMNS.values(), 13),
    }
    for index, name in enumerate(frame.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(name, 10)
        for cell in sheet[get_column_letter(index)][1:]:
            cell.alignment = Alignment(wrap_text=name.startswith("사유"), vertical="top")
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
