"""Recorded outcomes come back as contract rows the next delivery and training run take in."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy

from features.contract.delivery import validate_delivery
from features.round_table import build_training_set, survey_sources
from serving.records.known import SEOUL
from serving.records.store import Records, RecordsOutdated


def test_records_are_append_only(tmp_path) -> None:
    records = Records(tmp_path / "r.sqlite")
    records.record_overrides(
        [{"household_id": "H1", "action": "include", "reason": "이웃 신고"}], date(2026, 7, 31), "a"
    )
    records.record_overrides(
        [{"household_id": "H1", "action": "withdraw", "reason": "확인 결과 이상 없음"}],
        date(2026, 7, 31),
        "a",
    )
    assert records.overrides_for(date(2026, 7, 31)) == {}
    assert len(records.table("overrides")) == 2  # the withdrawn decision is still on record
    records.audit("a", "planner", "rank", ["H1"])
    records.record_outcomes([{"household_id": "H1", "visited_on": "2026-08-01", "outcome": "moved"}], "a")
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        for statement in (
            "UPDATE overrides SET reason = 'x'",
            "DELETE FROM audit",
            "DELETE FROM visit_outcomes",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        records.record_overrides(
            [{"household_id": "H2", "action": "exclude", "reason": "  "}], date(2026, 7, 31), "a"
        )


def test_an_exclusion_stands_in_later_rounds_until_a_planner_ends_it(tmp_path) -> None:
    records = Records(tmp_path / "r.sqlite")
    june, july, august = date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)
    records.record_overrides(
        [
            {"household_id": "H1", "action": "exclude", "reason": "사례관리 중"},
            {"household_id": "H2", "action": "include", "reason": "이웃 신고"},
        ],
        june,
        "gwanak-team",
    )
    in_july = records.overrides_for(july)
    assert set(in_july) == {"H1"}  # the include was for June's list only
    assert in_july["H1"].action == "exclude" and in_july["H1"].recorded_by == "gwanak-team"
    assert in_july["H1"].round_date == "2026-06-30" and in_july["H1"].reason == "사례관리 중"
    assert set(records.overrides_for(date(2026, 5, 31))) == set()  # not before it was decided
    records.record_overrides([{"household_id": "H1", "action": "withdraw", "reason": "종결"}], august, "b")
    assert "H1" in records.overrides_for(july) and "H1" not in records.overrides_for(august)
    records.record_overrides([{"household_id": "H3", "action": "exclude", "reason": "입원"}], june, "a")
    records.record_overrides([{"household_id": "H3", "action": "include", "reason": "퇴원"}], july, "a")
    assert records.overrides_for(july)["H3"].action == "include"
    assert "H3" not in records.overrides_for(august)  # including it ended the exclusion


def test_an_outcomes_request_is_recorded_whole_or_not_at_all(tmp_path) -> None:
    records = Records(tmp_path / "r.sqlite")
    visit = {"household_id": "H1", "visited_on": "2026-08-01", "outcome": "isolated"}
    decision = {"household_id": "H1", "action": "include", "reason": "이웃 신고"}
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # the care mark has no reason
        records.record_feedback(
            [visit],
            [decision],
            [{"household_id": "H1", "action": "in_care", "reason": " "}],
            date(2026, 7, 31),
            "a",
        )
    assert all(len(records.table(t)) == 0 for t in ("visit_outcomes", "overrides", "care_marks"))
    ids = records.record_feedback(
        [visit],
        [decision],
        [{"household_id": "H1", "action": "in_care", "reason": "돌봄"}],
        date(2026, 7, 31),
        "a",
    )
    assert ids == ([1], [1], [1])
    knowledge = records.knowledge(date(2026, 1, 1))
    [(household, visited, recorded)] = knowledge.findings
    assert (household, visited) == ("H1", date(2026, 8, 1)) and recorded == datetime.now(SEOUL).date()
    assert set(knowledge.in_care_on(None)) == {"H1"}


def test_a_database_made_before_the_findings_index_gains_it_when_migrated(tmp_path) -> None:
    Records(tmp_path / "r.sqlite").close()
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        db.execute("DROP INDEX visit_outcomes_findings")
        db.execute("DROP TABLE records_format")  # the layout before it carried its version
    with pytest.raises(RecordsOutdated):
        Records(tmp_path / "r.sqlite")
    Records(tmp_path / "r.sqlite", migrate=True).close()
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "visit_outcomes_findings" in names


def test_outcomes_wait_for_the_disk_and_the_read_log_does_not(tmp_path) -> None:
    records = Records(tmp_path / "r.sqlite")
    issued: list[str] = []
    sqlalchemy.event.listen(
        records.engine, "before_cursor_execute", lambda _c, _k, statement, *_: issued.append(statement)
    )

    def safety_before(write: str) -> str:
        at = next(i for i, s in enumerate(issued) if s.startswith(write))
        return next(s for s in reversed(issued[:at]) if s.startswith("PRAGMA synchronous"))

    records.record_outcomes([{"household_id": "H1", "visited_on": "2026-08-01", "outcome": "moved"}], "a")
    records.audit("a", "service", "score", ["H1"])
    records.record_overrides(
        [{"household_id": "H1", "action": "include", "reason": "신고"}], date(2026, 7, 31), "a"
    )
    assert safety_before("INSERT INTO visit_outcomes") == "PRAGMA synchronous=FULL"
    assert safety_before("INSERT INTO audit") == "PRAGMA synchronous=NORMAL"
    assert safety_before("INSERT INTO overrides") == "PRAGMA synchronous=FULL"
    with sqlite3.connect(tmp_path / "r.sqlite") as other:  # committed before audit() returned
        assert other.execute("SELECT count(*) FROM audit").fetchone() == (1,)
    for durable, level in ((False, 1), (True, 2), (False, 1)):  # 1 NORMAL, 2 FULL, on a reused connection
        with records._transaction(durable=durable) as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == level


def test_exported_outcomes_pass_validation_and_become_labels(served, tmp_path) -> None:
    visits = pq.read_table(served.data / "outreach_visits.parquet").to_pandas()
    visits["visited_on"] = pd.to_datetime(visits["visited_on"])
    window = (pd.Timestamp("2026-07-31"), pd.Timestamp("2026-10-29"))
    registry = pq.read_table(served.data / "households.parquet").to_pandas()
    unvisited = sorted(
        set(registry["household_id"]) - set(visits.loc[visits["visited_on"].between(*window), "household_id"])
    )
    household = unvisited[0]
    records = Records(tmp_path / "records.sqlite")
    records.record_outcomes(
        [
            {
                "household_id": household,
                "visited_on": "2026-08-05",
                "outcome": "not_isolated",
                "trigger": "survey",
            }
        ],
        "team",
    )
    # A correction: the same visit recorded again; the latest row wins on export.
    records.record_outcomes(
        [
            {
                "household_id": household,
                "visited_on": "2026-08-05",
                "outcome": "isolated",
                "trigger": "survey",
                "checklist_score": 11,
            }
        ],
        "team",
    )
    exported = tmp_path / "recorded.parquet"
    assert records.export_visits(exported) == 1

    delivery = tmp_path / "delivery"
    delivery.mkdir()
    for path in served.data.glob("*.parquet"):
        shutil.copy(path, delivery / path.name)
    merged = pa.concat_tables(
        [pq.read_table(served.data / "outreach_visits.parquet"), pq.read_table(exported)]
    )
    pq.write_table(merged, delivery / "outreach_visits.parquet")
    report = validate_delivery(delivery)
    source = next(s for s in report.sources if s.name == "outreach_visits")
    assert source.rows_read == len(visits) + 1 and source.rows_quarantined == 0

    table, _ = build_training_set(delivery, [pd.Timestamp("2026-07-31")])
    row = table.set_index("household_id").loc[household]
    assert row["label"] == 1 and row["label_survey"] == 1


def test_exported_sweep_samples_tell_evaluation_where_each_survey_label_came_from(
    served, tmp_path, monkeypatch
) -> None:
    visits = pq.read_table(served.data / "outreach_visits.parquet").to_pandas()
    window = visits[
        (visits["trigger"] == "survey")
        & pd.to_datetime(visits["visited_on"]).between(pd.Timestamp("2026-08-01"), pd.Timestamp("2026-10-29"))
    ].sort_values(["visited_on", "household_id"])
    early, late = window.drop_duplicates("household_id")["household_id"].head(2)
    first_visit = pd.to_datetime(window.set_index("household_id")["visited_on"]).groupby(level=0).min()
    records = Records(tmp_path / "records.sqlite")
    # The sweep of `early` was recorded a day before its first visit (15:30 UTC is the next day in
    # Seoul: the day it counts for is Seoul's), that of `late` the day after its first visit.
    before = (first_visit[early] - pd.Timedelta(days=2)).strftime("%Y-%m-%dT15:30:00.000+00:00")
    monkeypatch.setattr("serving.records.store._now", lambda: before)
    records.record_survey_sample([early], "2026-08 관악구 전수조사", "관악구청")
    after = (first_visit[late] + pd.Timedelta(days=1)).strftime("%Y-%m-%dT03:00:00.000+00:00")
    monkeypatch.setattr("serving.records.store._now", lambda: after)
    records.record_survey_sample([late, late], "2026-08 관악구 전수조사", "관악구청")
    monkeypatch.undo()
    exported = tmp_path / "samples.parquet"
    assert records.export_survey_samples(exported) == 2  # one row per household and sweep

    delivery = tmp_path / "delivery"
    delivery.mkdir()
    for path in served.data.glob("*.parquet"):
        shutil.copy(path, delivery / path.name)
    shutil.copy(exported, delivery / "survey_samples.parquet")
    report = validate_delivery(delivery)
    assert report.source("survey_samples").rows_accepted == 2
    drawn = pd.read_parquet(exported).set_index("household_id")["drawn_on"]
    assert pd.Timestamp(drawn[early]) == first_visit[early] - pd.Timedelta(days=1)
    sources = survey_sources(delivery, pd.Timestamp("2026-07-31")).set_index("household_id")["source"]
    assert sources[early] == "recorded_sample"
    assert sources[late] == "drawn_after_visit"
    assert (sources.drop([early, late]) == "no_recorded_sample").all()
