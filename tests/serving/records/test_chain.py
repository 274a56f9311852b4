"""The record is tamper-evident: every way of changing history outside the service is found and
named, on SQLite and on a real PostgreSQL server, and the guards refuse it in the first place."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from anbu.cli import app
from serving.records.store import Records
from serving.records.verify import verify
from tests.support.local_postgres import postgres_server


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fill(records: Records) -> None:
    for i in range(1, 6):
        records.audit("gwanak-team", "planner", "rank", [f"H{i:08d}"], {"round": "2026-07-31"})
    records.record_overrides(
        [{"household_id": "H00000001", "action": "include", "reason": "이웃 신고"}], date(2026, 7, 31), "a"
    )
    records.record_outcomes(
        [{"household_id": "H00000001", "visited_on": "2026-08-01", "outcome": "isolated"}], "a"
    )


def _unguarded(records: Records, *statements: str) -> None:
    """What someone with the database's owner rights can do: switch the triggers off and edit."""
    with records.engine.begin() as connection:
        if records.dialect == "sqlite":
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()
            for (name,) in names:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for table in ("audit", "overrides", "visit_outcomes", "chain_heads"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            connection.exec_driver_sql(statement)


TAMPERING = {
    "rewritten": (["UPDATE audit SET caller = 'someone-else' WHERE id = 2"], [("audit", 2, "rewritten")]),
    "households changed": (
        ["UPDATE audit SET households = '[\"H99999999\"]' WHERE id = 3"],
        [("audit", 3, "rewritten")],
    ),
    "deleted in the middle": (["DELETE FROM audit WHERE id = 3"], [("audit", 4, "deleted")]),
    "deleted the last": (["DELETE FROM audit WHERE id = 5"], [("audit", 5, "deleted")]),
    "deleted the last and moved the head back": (
        ["DELETE FROM audit WHERE id = 5", "UPDATE chain_heads SET last_id = 4 WHERE chain = 'audit'"],
        [("audit", None, "head")],
    ),
    "inserted at the end": (
        [
            "INSERT INTO audit (id, at, caller, role, endpoint, households, detail, prev_hash, row_hash) "
            "VALUES (6, '2026-08-01', 'x', 'planner', 'rank', '[]', '{}', 'a', 'b')"
        ],
        [("audit", 6, "rewritten"), ("audit", 6, "inserted")],
    ),
    "an override rewritten": (["UPDATE overrides SET action = 'exclude'"], [("overrides", 1, "rewritten")]),
    "an outcome rewritten": (
        ["UPDATE visit_outcomes SET outcome = 'not_isolated'"],
        [("visit_outcomes", 1, "rewritten")],
    ),
}


def _open(kind: str, tmp_path: Path, postgres_url: str | None) -> Records:
    if kind == "sqlite":
        return Records(tmp_path / "records.sqlite")
    with sa.create_engine(postgres_url).begin() as connection:  # a fresh database per case
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return Records(postgres_url, tmp_path / "records.secret")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_names_every_kind_of_tampering(kind: str, case: str, tmp_path: Path, request) -> None:
    url = request.getfixturevalue("postgres") if kind == "postgresql" else None
    records = _open(kind, tmp_path, url)
    _fill(records)
    assert verify(records) == []
    statements, expected = TAMPERING[case]
    _unguarded(records, *statements)
    found = [(f.table, f.row_id, f.kind) for f in verify(records)]
    assert found == expected, [f.message for f in verify(records)]
    records.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_guards_refuse_update_delete_and_truncate(kind: str, tmp_path: Path, request) -> None:
    url = request.getfixturevalue("postgres") if kind == "postgresql" else None
    records = _open(kind, tmp_path, url)
    _fill(records)
    statements = ["UPDATE overrides SET reason = 'x'", "DELETE FROM audit", "DELETE FROM chain_heads"]
    if kind == "postgresql":
        statements += ["TRUNCATE audit", "UPDATE chain_heads SET last_id = 0"]
    for statement in statements:
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only|only move forward"),
            records.engine.begin() as c,
        ):
            c.exec_driver_sql(statement)
    assert verify(records) == []
    records.close()


def test_a_rollback_to_an_earlier_copy_is_caught_with_kept_heads(tmp_path: Path) -> None:
    records = Records(tmp_path / "records.sqlite")
    _fill(records)
    records.close()
    shutil.copy(tmp_path / "records.sqlite", tmp_path / "earlier.sqlite")
    records = Records(tmp_path / "records.sqlite")
    records.audit("gwanak-team", "planner", "rank", ["H00000009"])
    kept = records.heads()
    records.close()
    shutil.copy(tmp_path / "earlier.sqlite", tmp_path / "records.sqlite")  # the whole file rolled back
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "records.sqlite") + suffix).unlink(missing_ok=True)
    rolled_back = Records(tmp_path / "records.sqlite")
    assert verify(rolled_back) == []  # consistent in itself …
    found = verify(rolled_back, kept)  # … but not what was kept
    assert [(f.table, f.row_id, f.kind) for f in found] == [("audit", 6, "deleted")]


def test_records_verify_command_says_intact_or_names_the_rows(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    records = Records(tmp_path / "_records" / "anbu.sqlite")
    _fill(records)
    runner = CliRunner()
    intact = runner.invoke(app, ["records", "verify", "--data", str(tmp_path)])
    assert intact.exit_code == 0 and "Records intact" in intact.output and "audit 5 rows" in intact.output
    heads = runner.invoke(app, ["records", "head", "--data", str(tmp_path)])
    (tmp_path / "heads.json").write_text(heads.output)
    assert json.loads(heads.output)["audit"][0] == 5
    _unguarded(records, "UPDATE audit SET caller = 'x' WHERE id = 2")
    broken = runner.invoke(
        app, ["records", "verify", "--data", str(tmp_path), "--head", str(tmp_path / "heads.json")]
    )
    assert broken.exit_code == 2 and "audit: row 2 does not match its hash (rewritten)" in broken.output


def test_on_postgresql_only_the_read_log_commits_without_waiting_for_the_disk(
    postgres, tmp_path: Path
) -> None:
    records = Records(postgres, secret_file=tmp_path / "records.secret")
    for durable, setting in ((False, "off"), (True, "on"), (False, "off")):
        with records._transaction(durable=durable) as connection:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == setting
    records.close()
