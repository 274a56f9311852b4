"""The list's changes since the previous round and planners' decisions, on rounds small enough to read."""

from __future__ import annotations

import pandas as pd

from serving.ranking import outreach_list
from serving.records import Override


def _round(date: str, rows: list[tuple[str, float, str]], gu: str = "관악구") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["household_id", "risk", "reason_codes"])
    frame = frame.sort_values("risk", ascending=False, ignore_index=True)
    frame["rank"] = range(1, len(frame) + 1)
    frame["gu"], frame["dong_code"], frame["round_date"] = gu, "1162052000", pd.Timestamp(date)
    frame["percentile"], frame["band"], frame["model_version"] = 50.0, "high", "3"
    for slot in range(1, 5):
        frame[f"reason_{slot}_ko"] = frame[f"reason_{slot}_en"] = None
    return frame


def test_changes_new_risen_fallen_steady_reasons_and_who_left() -> None:
    before = _round("2026-06-30", [("A", 0.50, "x|y"), ("B", 0.40, "x"), ("C", 0.30, "y"), ("D", 0.20, "z")])
    now = _round("2026-07-31", [("A", 0.51, "y|x"), ("B", 0.45, "x|z"), ("D", 0.35, "z"), ("C", 0.10, "y")])
    listed = outreach_list(now, before, "관악구", None, 3, {})
    rows = listed.rows.set_index("household_id")
    assert list(listed.rows["household_id"]) == ["A", "B", "D"]
    assert (
        rows.loc["A", "change"] == "steady" and not rows.loc["A", "reasons_changed"]
    )  # order of reasons ignored
    assert rows.loc["B", "change"] == "risen" and rows.loc["B", "reasons_changed"]
    assert rows.loc["D", "change"] == "new"
    assert listed.left.to_dict("records") == [
        {"household_id": "C", "previous_risk": 0.30, "now_risk": 0.10, "why": "lower risk"}
    ]
    assert listed.previous_round == "2026-06-30"


def test_planner_inclusion_takes_the_lowest_model_place_and_exclusion_leaves() -> None:
    now = _round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.7, "x"), ("D", 0.1, "x")])
    decisions = {
        "A": Override("A", "exclude", "입원 중", "team", "t"),
        "D": Override("D", "include", "이웃 신고", "team", "t"),
    }
    listed = outreach_list(now, None, "관악구", None, 2, decisions)
    assert list(listed.rows["household_id"]) == ["B", "D"]
    assert listed.rows.set_index("household_id").loc["D", "override_reason"] == "이웃 신고"
    assert (listed.rows["change"] == "new").all()  # no previous round: everything is new


def test_a_household_that_moved_away_left_because_it_is_no_longer_registered() -> None:
    before = _round("2026-06-30", [("A", 0.9, "x"), ("B", 0.8, "x")])
    now = _round("2026-07-31", [("B", 0.8, "x"), ("C", 0.2, "x")])
    listed = outreach_list(now, before, "관악구", None, 2, {})
    assert listed.left["household_id"].tolist() == ["A"]
    assert listed.left["why"].tolist() == ["no longer registered here"]
    assert listed.left["now_risk"].isna().all() and listed.left["previous_risk"].tolist() == [0.9]
