"""What planners and services tell us back, and who saw which scores: an append-only record.

Visit outcomes are the labels of the next training run, overrides are human decisions the list
must honour and keep, and the audit log answers "who looked at this household's score". None of
them may be lost or rewritten, so they live in one SQLite file (stdlib, transactional, durable with
`synchronous=FULL`) whose triggers refuse UPDATE and DELETE. A correction is a new row.

`export_visits` writes recorded outcomes in the contract's `outreach_visits` layout, so the next
delivery (or `anbu validate`) takes them in like any other visit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

_SCHEMA = """
CREATE TABLE IF NOT EXISTS visit_outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL,
    visited_on TEXT NOT NULL,
    outcome TEXT NOT NULL,
    checklist_score INTEGER,
    trigger TEXT NOT NULL,
    note TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL,
    round_date TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('include', 'exclude', 'withdraw')),
    reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    caller TEXT NOT NULL,
    role TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    households TEXT NOT NULL,
    detail TEXT
);
"""
_APPEND_ONLY = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"""
    for table in ("visit_outcomes", "overrides", "audit")
    for verb in ("UPDATE", "DELETE")
]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Override:
    household_id: str
    action: str
    reason: str
    recorded_by: str
    recorded_at: str


class Records:
    """One SQLite file; safe to share between the threads of one service process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA + "\n".join(_APPEND_ONLY))

    def close(self) -> None:
        self._db.close()

    def _insert(self, table: str, rows: list[dict]) -> list[int]:
        if not rows:
            return []
        columns = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [self._db.execute(sql, [row[c] for c in columns]).lastrowid for row in rows]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [int(i) for i in ids if i is not None]

    def record_outcomes(self, outcomes: list[dict], recorded_by: str) -> list[int]:
        """Visit outcomes (household_id, visited_on, outcome, checklist_score, trigger, note)."""
        at = _now()
        return self._insert(
            "visit_outcomes",
            [
                {
                    "household_id": o["household_id"],
                    "visited_on": str(o["visited_on"]),
                    "outcome": o["outcome"],
                    "checklist_score": o.get("checklist_score"),
                    "trigger": o.get("trigger") or "system_list",
                    "note": o.get("note"),
                    "recorded_by": recorded_by,
                    "recorded_at": at,
                }
                for o in outcomes
            ],
        )

    def record_overrides(self, overrides: list[dict], round_date: date, recorded_by: str) -> list[int]:
        at = _now()
        return self._insert(
            "overrides",
            [
                {
                    "household_id": o["household_id"],
                    "round_date": round_date.isoformat(),
                    "action": o["action"],
                    "reason": o["reason"],
                    "recorded_by": recorded_by,
                    "recorded_at": at,
                }
                for o in overrides
            ],
        )

    def overrides_for(self, round_date: date) -> dict[str, Override]:
        """The latest decision per household for a round; `withdraw` cancels an earlier one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT household_id, action, reason, recorded_by, recorded_at FROM overrides "
                "WHERE round_date = ? ORDER BY id",
                (round_date.isoformat(),),
            ).fetchall()
        latest = {row[0]: Override(*row) for row in rows}
        return {hid: o for hid, o in latest.items() if o.action != "withdraw"}

    def audit(
        self, caller: str, role: str, endpoint: str, households: list[str], detail: dict | None = None
    ) -> None:
        self._insert(
            "audit",
            [
                {
                    "at": _now(),
                    "caller": caller,
                    "role": role,
                    "endpoint": endpoint,
                    "households": json.dumps(households, ensure_ascii=False),
                    "detail": json.dumps(detail or {}, ensure_ascii=False),
                }
            ],
        )

    def table(self, name: str) -> pd.DataFrame:
        if name not in ("visit_outcomes", "overrides", "audit"):
            raise ValueError(f"unknown record table {name}")
        with self._lock:
            return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY id", self._db)

    def export_visits(self, out: Path) -> int:
        """Recorded outcomes as contract `outreach_visits` rows (Parquet); returns the row count."""
        from features.contract_files import to_arrow
        from features.schemas import SOURCES_BY_NAME

        visits = self.table("visit_outcomes")
        # A correction is a later row for the same visit: the latest recorded one wins.
        visits = visits.drop_duplicates(["household_id", "visited_on", "trigger"], keep="last")
        frame = pd.DataFrame(
            {
                "household_id": visits["household_id"].astype("string"),
                "visited_on": pd.to_datetime(visits["visited_on"]).astype("datetime64[us]"),
                "trigger": visits["trigger"].astype("string"),
                "outcome": visits["outcome"].astype("string"),
                "checklist_score": visits["checklist_score"].astype("Int64"),
            }
        )
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_arrow(frame, SOURCES_BY_NAME["outreach_visits"]), out)
        return len(frame)
