"""A ranked list as the files teams open: CSV (UTF-8 with BOM, so Excel shows Hangul) and XLSX."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from serving.lists.ranking import OutreachList
from serving.scoring.reasons import MAX_REASONS

PLANNER_COLUMNS = {
    "list": "목록",
    "list_rank": "순위",
    "household_id": "가구번호",
    "dong_code": "행정동",
    "risk": "위험도",
    "band_ko": "위험 등급",
    "change": "변화",
    "list_why_ko": "목록 사유",
    **{f"reason_{slot + 1}_ko": f"사유 {slot + 1}" for slot in range(MAX_REASONS)},
    "override": "담당자 조정",
    "override_reason": "조정 사유",
    "model_version": "모델 버전",
}
CHANGE_KO = {"new": "신규", "risen": "상승", "fallen": "하락", "steady": "유지"}
LIST_KO = {"discovery": "발굴", "recheck": "재확인"}
BAND_FILL = {"매우 높음": "F4B6B6", "높음": "F9D9A6", "주의": "FFF2B3", "낮음": "FFFFFF"}


def planner_frame(listed: OutreachList) -> pd.DataFrame:
    """The list with Korean headers, as a planner reads it (English reasons stay in the API): a
    spreadsheet has no lists in a cell, so each reason gets a column of its own."""
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
    return frame.rename(columns=PLANNER_COLUMNS)


def to_csv(listed: OutreachList) -> bytes:
    return planner_frame(listed).to_csv(index=False).encode("utf-8-sig")


def to_xlsx(listed: OutreachList, title: str) -> bytes:
    frame = planner_frame(listed)
    book = Workbook()
    sheet = book.active
    sheet.title = "방문 목록"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(list(frame.columns))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    band_column = list(frame.columns).index("위험 등급") + 1
    for values in frame.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in values])
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
    }
    for index, name in enumerate(frame.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(name, 10)
        for cell in sheet[get_column_letter(index)][1:]:
            cell.alignment = Alignment(wrap_text=name.startswith("사유"), vertical="top")
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
