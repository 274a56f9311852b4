"""Reads never take the write lock: a list is not held up behind a writer."""

from __future__ import annotations

import sqlite3
import time
from datetime import date

from serving.records.store import Records


def test_reads_go_on_while_another_process_holds_the_write_lock(tmp_path) -> None:
    july = date(2026, 7, 31)
    records = Records(tmp_path / "r.sqlite")
    records.record_overrides(
        [{"household_id": "H1", "action": "exclude", "reason": "사례관리 중"}], july, "a"
    )
    holder = sqlite3.connect(tmp_path / "r.sqlite", timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in another process, mid-transaction
    try:
        began = time.monotonic()
        assert set(records.overrides_for(july)) == {"H1"}
        assert records.knowledge(date(2025, 8, 1)).in_care_on(None) == {}
        assert len(records.table("overrides")) == 1
        assert records.heads()["overrides"][0] == 1
        assert time.monotonic() - began < 2  # the busy wait for the lock is 10 s
    finally:
        holder.rollback()
        holder.close()
