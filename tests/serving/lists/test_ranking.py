"""The list's changes since the previous round and planners' decisions, on rounds small enough to read."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.lists.ranking import outreach_list
from serving.records.store import Override


def _round(date: str, rows: list[tuple[str, float, str]], gu: str = "관악구") -> pd.DataFrame:
    """A scored round's frame; each row's reason codes written "x|y" (their sentences name them)."""
    frame = pd.DataFrame(rows, columns=["household_id", "risk", "codes"])
    frame = frame.sort_values("risk", ascending=False, ignore_index=True)
    frame["rank"] = range(1, len(frame) + 1)
    frame["gu"], frame["dong_code"], frame["round_date"] = gu, "1162052500", pd.Timestamp(date)
    frame["percentile"], frame["band"], frame["model_version"] = 50.0, "high", "3"
    frame["reasons"] = [
        [
            {"code": c, "feature": c, "text_ko": f"{c} 사유", "text_en": f"{c} reason"}
            for c in codes.split("|")
            if c
        ]
        for codes in frame.pop("codes")
    ]
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


def _with_findings(frame: pd.DataFrame, found: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["last_finding_on"] = frame["household_id"].map(
        lambda h: pd.Timestamp(found[h]) if h in found else pd.NaT
    )
    return frame


def _marked(household_id: str, day: str, action: str = "in_care", reason: str = "주 1회 안부 전화"):
    from serving.records.known import CareEvent

    return CareEvent(household_id, action, reason, "team-3", f"{day}T03:00:00+00:00")


def _known(
    frame: pd.DataFrame,
    care: list | None = None,
    recorded: dict | None = None,
    window: int = 365,
    until: str | None = None,
):
    """Who is known on the frame's round: `recorded` maps households to the day a visit recorded
    through the service found them; `care` lists care events (_marked)."""
    from serving.records.known import Knowledge, known_households

    as_of = pd.Timestamp(frame["round_date"].iloc[0])
    # (household, visited on, recorded on): recorded the day of the visit unless given as (visit, recorded)
    findings = tuple(
        (h, pd.Timestamp(day).date(), pd.Timestamp(day).date())
        if isinstance(day, str)
        else (h, pd.Timestamp(day[0]).date(), pd.Timestamp(day[1]).date())
        for h, day in (recorded or {}).items()
    )
    knowledge = Knowledge(findings, tuple(care or ()))
    return known_households(
        frame, as_of, window, knowledge, until=pd.Timestamp(until).date() if until else None
    )


def test_the_discovery_list_leaves_out_the_households_outreach_already_found() -> None:
    now = _with_findings(
        _round(
            "2026-07-31",
            [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.7, "x"), ("D", 0.6, "x"), ("E", 0.5, "x")],
        ),
        {"A": "2026-05-03", "C": "2024-01-15"},  # A found this year; C found long before the window
    )
    listed = outreach_list(now, None, "관악구", None, 3, {}, known=_known(now))
    assert list(listed.rows["household_id"]) == ["B", "C", "D"]
    assert (listed.rows["list"] == "discovery").all() and listed.known_in_area == 1
    why = listed.rows.set_index("household_id")["list_why_en"]
    assert "no visit in the last 12 months" in why["B"]
    assert "last found 2024-01-15" in why["C"]


def test_the_planner_splits_the_capacity_and_the_recheck_list_puts_a_rising_risk_first() -> None:
    before = _round("2026-06-30", [("A", 0.85, "x"), ("B", 0.30, "x"), ("C", 0.2, "x"), ("D", 0.1, "x")])
    now = _round("2026-07-31", [("A", 0.80, "x"), ("B", 0.60, "x"), ("C", 0.5, "x"), ("D", 0.4, "x")])
    found = {"A": "2026-06-01", "B": "2026-07-01"}
    now, before = _with_findings(now, found), _with_findings(before, {"A": "2026-06-01"})
    listed = outreach_list(
        now,
        before,
        "관악구",
        None,
        3,
        {},
        known=_known(now),
        previous_known=_known(before),
        recheck_capacity=1,
    )
    assert (listed.discovery_capacity, listed.recheck_capacity) == (2, 1)
    assert listed.of("discovery")["household_id"].tolist() == ["C", "D"]
    # B: 0.60 now, up 0.30 since June (priority 0.90) goes before A: 0.80, down from 0.85
    recheck = listed.of("recheck").set_index("household_id")
    assert recheck.index.tolist() == ["B"]
    assert recheck.loc["B", "list_rank"] == 1 and recheck.loc["B", "change"] == "new"
    assert "2026-07-01" in recheck.loc["B", "list_why_en"]
    assert abs(recheck.loc["B", "risk_rise"] - 0.30) < 1e-9


def test_a_household_marked_in_care_or_found_on_a_recorded_visit_is_known() -> None:
    now = _with_findings(_round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.7, "x")]), {})
    known = _known(now, care=[_marked("A", "2026-07-02")], recorded={"B": "2026-08-02"})
    listed = outreach_list(now, None, "관악구", None, 3, {}, known=known, recheck_capacity=1)
    assert listed.of("discovery")["household_id"].tolist() == ["C"]
    assert listed.of("recheck")["household_id"].tolist() == ["A"]
    assert "marked in care by team-3" in listed.of("recheck")["list_why_en"].iloc[0]
    assert "B" in known and listed.known_in_area == 2


def test_a_finding_older_than_the_window_does_not_make_a_household_known() -> None:
    now = _with_findings(_round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x")]), {"A": "2026-01-31"})
    assert "A" in _known(now, window=365) and "A" not in _known(now, window=90)


def test_a_recheck_capacity_over_the_capacity_is_refused() -> None:
    now = _round("2026-07-31", [("A", 0.9, "x")])
    with pytest.raises(ValueError, match="recheck_capacity"):
        outreach_list(now, None, "관악구", None, 1, {}, recheck_capacity=2)


def test_a_household_never_found_is_not_said_to_have_a_last_finding() -> None:
    now = _with_findings(_round("2026-07-31", [("A", 0.9, "x")]), {})
    why = outreach_list(now, None, "관악구", None, 1, {}, known=_known(now)).rows["list_why_en"].iloc[0]
    assert "last found" not in why and "NaT" not in why


def test_the_previous_round_is_compared_with_what_was_known_on_its_day() -> None:
    # B was on June's discovery list, a visit in July (recorded through the service) found it:
    # today it is re-checked, and June's list still held it as not yet known.
    before = _with_findings(_round("2026-06-30", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")]), {})
    now = _with_findings(_round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")]), {})
    recorded = {"B": "2026-07-10"}
    listed = outreach_list(
        now,
        before,
        "관악구",
        None,
        2,
        {},
        known=_known(now, recorded=recorded),
        previous_known=_known(before, recorded=recorded, until="2026-06-30"),
        recheck_capacity=1,
    )
    rows = listed.rows.set_index("household_id")
    assert rows.loc["B", "list"] == "recheck" and rows.loc["B", "change"] == "new"
    assert rows.loc["A", "list"] == "discovery" and rows.loc["A", "change"] == "steady"
    # Without `until`, June's lists would have been rebuilt with July's visit: B "steady".
    rebuilt = outreach_list(
        now,
        before,
        "관악구",
        None,
        2,
        {},
        known=_known(now, recorded=recorded),
        previous_known=_known(before, recorded=recorded),
        recheck_capacity=1,
    )
    assert rebuilt.rows.set_index("household_id").loc["B", "change"] == "steady"


def test_care_marks_count_from_the_day_care_began_and_only_on_rounds_after_them() -> None:
    now = _with_findings(_round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x")]), {})
    care = [
        _marked("A", "2026-07-02"),
        _marked("A", "2026-07-20", reason="주 2회 방문으로 변경"),  # a new reason, same care
        _marked("B", "2026-07-05"),
        _marked("B", "2026-07-25", action="end_care", reason="전입 가구 연결 완료"),
    ]
    known = _known(now, care=care)
    assert "B" not in known and "A" in known
    why = known.households["A"].why_en
    assert "on 2026-07-02" in why and "주 2회 방문으로 변경" in why
    assert "A" not in _known(now, care=care, until="2026-07-01")
    assert "B" in _known(now, care=care, until="2026-07-24")


def test_a_planner_include_on_a_known_household_takes_a_discovery_place_when_recheck_has_none() -> None:
    now = _with_findings(
        _round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.7, "x"), ("K", 0.1, "x")]),
        {"K": "2026-05-01"},
    )
    include = {"K": Override("K", "include", "이웃 신고", "team", "t")}
    listed = outreach_list(now, None, "관악구", None, 3, include, known=_known(now), recheck_capacity=0)
    assert len(listed.rows) == 3
    assert listed.of("discovery")["household_id"].tolist() == ["A", "B"]
    assert listed.of("recheck")["household_id"].tolist() == ["K"]


def test_a_household_that_became_known_left_the_discovery_list_for_the_recheck_side() -> None:
    before = _with_findings(_round("2026-06-30", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")]), {})
    now = _with_findings(
        _round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")]), {"A": "2026-07-03"}
    )
    listed = outreach_list(
        now, before, "관악구", None, 2, {}, known=_known(now), previous_known=_known(before)
    )
    assert listed.left.set_index("household_id").loc["A", "why"].startswith("now known")


def test_a_previous_round_scored_before_the_two_lists_is_compared_as_one_list() -> None:
    before = _round("2026-06-30", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")])
    before["last_finding_on"] = pd.Series(pd.NaT, index=before.index, dtype="datetime64[us]")
    now = _with_findings(
        _round("2026-07-31", [("A", 0.9, "x"), ("B", 0.8, "x"), ("C", 0.2, "x")]), {"A": "2026-05-03"}
    )
    listed = outreach_list(
        now,
        before,
        "관악구",
        None,
        2,
        {},
        known=_known(now),
        previous_known=_known(before, until="2026-06-30"),
        recheck_capacity=1,
    )
    rows = listed.rows.set_index("household_id")
    # June's single list of two held A and B: B stays on discovery, A moved to re-check.
    assert rows.loc["B", "change"] == "steady" and rows.loc["A", "change"] == "new"
    assert listed.left.empty


def test_a_visit_recorded_after_a_round_with_an_earlier_date_does_not_change_that_rounds_list() -> None:
    june = _with_findings(_round("2026-06-30", [("A", 0.9, "x"), ("B", 0.8, "x")]), {})
    # B's visit is dated 15 June but was recorded in December: June's list was served without it.
    back_dated = {"B": ("2026-06-15", "2026-12-06")}
    assert "B" not in _known(june, recorded=back_dated, until="2026-06-30")
    assert "B" in _known(june, recorded={"B": "2026-06-15"}, until="2026-06-30")
    assert "B" in _known(june, recorded=back_dated)  # the round being worked on knows everything
