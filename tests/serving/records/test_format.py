"""A records database carries its layout's version: one of an earlier layout is refused, naming
`anbu migrate`, which brings it up to date once without changing a record."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anbu.cli import app
from serving.records.store import RECORDS_FORMAT, Records, RecordsOutdated
from serving.records.verify import verify

runner = CliRunner()


def _earlier_layout(data: Path) -> Path:
    """Records written before the layout carried its version, and before survey samples and
    idempotency keys had tables of their own."""
    path = data / "_records" / "anbu.sqlite"
    records = Records(path)
    records.record_outcomes(
        [{"household_id": "H1", "visited_on": "2026-08-01", "outcome": "isolated"}], "team"
    )
    records.record_overrides(
        [{"household_id": "H2", "action": "exclude", "reason": "이사 확인"}], date(2026, 7, 31), "team"
    )
    records.close()
    with sqlite3.connect(path) as db:
        for table in ("records_format", "survey_samples", "idempotent_requests"):
            db.execute(f"DROP TABLE {table}")
    return path


def test_an_earlier_layout_is_refused_naming_the_command_and_migrated_once(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    path = _earlier_layout(tmp_path)
    with pytest.raises(
        RecordsOutdated, match=r"format 1, this anbu reads format 2: run `anbu migrate --data DIR` once"
    ):
        Records(path)
    listed = runner.invoke(app, ["records", "corrections", "--data", str(tmp_path)])
    assert listed.exit_code == 2 and f"run `anbu migrate --data {tmp_path}` once" in listed.output
    before = {table: _rows(path, table) for table in ("visit_outcomes", "overrides", "audit")}

    migrated = runner.invoke(app, ["migrate", "--data", str(tmp_path)])
    assert migrated.exit_code == 0, migrated.output
    assert f"format 1 → {RECORDS_FORMAT} (no record changed)" in migrated.output
    assert {table: _rows(path, table) for table in before} == before
    records = Records(path)
    assert records.found_format == RECORDS_FORMAT and verify(records) == []
    records.record_survey_sample(["H1"], "2026-08 관악구", "조사팀")  # the table it lacked is there
    again = runner.invoke(app, ["migrate", "--data", str(tmp_path)])
    assert again.exit_code == 0 and f"up to date (format {RECORDS_FORMAT})" in again.output


def test_a_newer_layout_is_refused_even_by_migrate(tmp_path) -> None:
    path = tmp_path / "anbu.sqlite"
    Records(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE records_format SET version = version + 1")
    with pytest.raises(RecordsOutdated, match="open them with the anbu that wrote them"):
        Records(path, migrate=True)


def _rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
