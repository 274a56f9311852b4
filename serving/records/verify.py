"""`anbu records verify`: walk every chain and say where history was changed.

A row is checked three ways: its id follows the one before (a gap is a deleted row), its hash
matches its content (else it was rewritten), and it is chained to the row before it (else a row
was inserted, deleted or moved before it). Each table's signed head must name its last row, so
deleting the newest rows, or a forged head, shows too. Given the heads kept elsewhere (`anbu
records head`), it also catches a database rolled back to an earlier copy.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from serving.records.store import (
    GENESIS,
    TABLES,
    TABLES_BY_NAME,
    Records,
    chain_heads,
    head_mac,
    row_hash,
)


@dataclass(frozen=True)
class Finding:
    table: str
    row_id: int | None
    kind: str
    """rewritten, deleted, inserted, head"""
    message: str


def verify(records: Records, kept_heads: dict[str, tuple[int, str]] | None = None) -> list[Finding]:
    """Everything wrong with the record's chains; empty when history is as it was written."""
    findings: list[Finding] = []
    with records.engine.connect() as connection:
        heads = {row.chain: row for row in connection.execute(sa.select(chain_heads)).all()}
        for table in TABLES:
            findings += _walk(
                records.secret, connection, table, heads.get(table), (kept_heads or {}).get(table)
            )
    return findings


def _walk(secret: bytes, connection, table: str, head, kept: tuple[int, str] | None) -> list[Finding]:
    findings: list[Finding] = []
    expected_id, previous_hash, seen = 1, GENESIS, {}
    query = sa.select(TABLES_BY_NAME[table]).order_by(sa.text("id"))
    for row in connection.execute(query).mappings():
        row_id = int(row["id"])
        if row_id != expected_id:
            missing = f"{expected_id}" if row_id == expected_id + 1 else f"{expected_id}–{row_id - 1}"
            findings.append(
                Finding(
                    table,
                    row_id,
                    "deleted",
                    f"{table}: row {missing} is missing (deleted) before row {row_id}",
                )
            )
        content = {column: row[column] for column in TABLES[table]}
        if not hmac.compare_digest(
            row_hash(secret, table, row_id, row["prev_hash"], content), row["row_hash"]
        ):
            findings.append(
                Finding(
                    table, row_id, "rewritten", f"{table}: row {row_id} does not match its hash (rewritten)"
                )
            )
        elif row["prev_hash"] != previous_hash and row_id == expected_id:
            findings.append(
                Finding(
                    table,
                    row_id,
                    "inserted",
                    f"{table}: row {row_id} is not chained to row {row_id - 1} (a row was inserted, replaced or moved there)",
                )
            )
        seen[row_id] = row["row_hash"]
        expected_id, previous_hash = row_id + 1, row["row_hash"]
    last_id = expected_id - 1
    if head is None:
        findings.append(Finding(table, None, "head", f"{table}: its chain head is missing"))
        return findings
    if not hmac.compare_digest(head_mac(secret, table, int(head.last_id), head.last_hash), head.head_mac):
        findings.append(
            Finding(
                table, None, "head", f"{table}: its chain head is not signed by the records' key (forged)"
            )
        )
    elif int(head.last_id) > last_id:
        findings.append(
            Finding(
                table,
                int(head.last_id),
                "deleted",
                f"{table}: {_rows(last_id + 1, int(head.last_id))} missing (deleted after the last row, {last_id})",
            )
        )
    elif int(head.last_id) < last_id or head.last_hash != previous_hash:
        findings.append(
            Finding(
                table,
                last_id,
                "inserted",
                f"{table}: the chain head names row {int(head.last_id)}, the table ends at row {last_id} (rows added outside the service)",
            )
        )
    if kept is not None:
        kept_id, kept_hash = kept
        if kept_id > last_id:
            findings.append(
                Finding(
                    table,
                    kept_id,
                    "deleted",
                    f"{table}: the kept head names row {kept_id}, the table ends at {last_id} (rolled back)",
                )
            )
        elif seen.get(kept_id, GENESIS if kept_id == 0 else None) != kept_hash:
            findings.append(
                Finding(
                    table,
                    kept_id,
                    "rewritten",
                    f"{table}: row {kept_id} is not the row the kept head names (history replaced)",
                )
            )
    return findings


def _rows(first: int, last: int) -> str:
    return f"row {first} is" if first == last else f"rows {first}–{last} are"
