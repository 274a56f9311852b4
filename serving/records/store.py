"""What planners and services tell us back, and who saw which scores: an append-only, tamper-evident
record.

Visit outcomes are the labels of the next training run, overrides are human decisions the list
must honour and keep, and the audit log answers "who looked at this household's score". None of
them may be lost or rewritten. They live in SQLite by default (one file, write-ahead log) or in
PostgreSQL when a city runs one (`ANBU_RECORDS_URL=postgresql+psycopg://…`), the same tables and
guarantees in both:

- an outcome or override is on disk before the service says it is recorded (`synchronous=FULL`;
  PostgreSQL's default commit). An audit row is written before the scores it logs are sent, and
  survives the service being killed, but its commit does not wait for the disk (`synchronous=
  NORMAL`; `synchronous_commit = off`): that wait was half of a `score` call, and a power cut can
  then cost the last moments of read log, never half a row or a broken chain (the log is cut at
  a transaction boundary, and the next durable commit flushes everything before it);
- triggers refuse UPDATE, DELETE and TRUNCATE, so the service cannot change history by mistake;
- every row carries an HMAC chained to the row before it in its table, and each table's head (last
  id and hash) is kept, itself signed, so `anbu records verify` finds a row that was rewritten,
  deleted or inserted by someone who could switch the triggers off, and says which. The key lives
  outside the database (`records.secret`, or ANBU_RECORDS_SECRET_FILE): whoever can edit the
  database without it cannot forge a chain that verifies. Rolling the whole database back to an
  earlier copy is the one change a chain cannot see by itself; `anbu records head` prints the
  heads to keep somewhere else, and `verify --head` checks against them.

A correction is a new row. `export_visits` writes recorded outcomes in the contract's
`outreach_visits` layout, so the next delivery (or `anbu validate`) takes them in like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from features.contract.vocabulary import POSITIVE_OUTCOMES
from serving.records.known import CareEvent, Knowledge, seoul_day

GENESIS = "0" * 64
"""The hash a table's first row is chained to."""

metadata = sa.MetaData()
_text = sa.Text


def _chained(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        *columns,
        sa.Column("prev_hash", _text, nullable=False),
        sa.Column("row_hash", _text, nullable=False),
    )


visit_outcomes = _chained(
    "visit_outcomes",
    sa.Column("household_id", _text, nullable=False),
    sa.Column("visited_on", _text, nullable=False),
    sa.Column("outcome", _text, nullable=False),
    sa.Column("checklist_score", sa.Integer),
    sa.Column("trigger", _text, nullable=False),
    sa.Column("note", _text),
    sa.Column("recorded_by", _text, nullable=False),
    sa.Column("recorded_at", _text, nullable=False),
)
FINDINGS_INDEX = sa.Index("visit_outcomes_findings", visit_outcomes.c.outcome, visit_outcomes.c.visited_on)
"""Every list reads the positive findings of the last window (Records.knowledge): without it, a
scan of all outcomes ever recorded per request."""
overrides = _chained(
    "overrides",
    sa.Column("household_id", _text, nullable=False),
    sa.Column("round_date", _text, nullable=False),
    sa.Column("action", _text, nullable=False),
    sa.Column("reason", _text, nullable=False),
    sa.Column("recorded_by", _text, nullable=False),
    sa.Column("recorded_at", _text, nullable=False),
    sa.CheckConstraint("action IN ('include', 'exclude', 'withdraw')", name="overrides_action"),
    sa.CheckConstraint("length(trim(reason)) > 0", name="overrides_reason"),
)
DECISIONS_INDEX = sa.Index("overrides_by_round", overrides.c.round_date)
"""Every list reads the decisions up to its round (Records.overrides_for: standing exclusions)."""
care_marks = _chained(
    "care_marks",
    sa.Column("household_id", _text, nullable=False),
    sa.Column("action", _text, nullable=False),
    sa.Column("reason", _text, nullable=False),
    sa.Column("recorded_by", _text, nullable=False),
    sa.Column("recorded_at", _text, nullable=False),
    sa.CheckConstraint("action IN ('in_care', 'end_care')", name="care_marks_action"),
    sa.CheckConstraint("length(trim(reason)) > 0", name="care_marks_reason"),
)
"""A planner's `in_care` override: unlike include/exclude it is not tied to a round, it holds
until an `end_care` (serving/records/known.py)."""
survey_samples = _chained(
    "survey_samples",
    sa.Column("household_id", _text, nullable=False),
    sa.Column("sweep", _text, nullable=False),
    sa.Column("recorded_by", _text, nullable=False),
    sa.Column("recorded_at", _text, nullable=False),
    sa.CheckConstraint("length(trim(sweep)) > 0", name="survey_samples_sweep"),
)
"""The households a district screening sweep drew, recorded before its visits: survey visits are
the one unbiased label set promotion and calibration trust, so a visit may carry the `survey`
trigger only for a household drawn beforehand (Records.drawn_for_survey)."""
SURVEY_INDEX = sa.Index("survey_samples_household", survey_samples.c.household_id)

audit_log = _chained(
    "audit",
    sa.Column("at", _text, nullable=False),
    sa.Column("caller", _text, nullable=False),
    sa.Column("role", _text, nullable=False),
    sa.Column("endpoint", _text, nullable=False),
    sa.Column("households", _text, nullable=False),
    sa.Column("detail", _text),
)
chain_heads = sa.Table(
    "chain_heads",
    metadata,
    sa.Column("chain", _text, primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("last_hash", _text, nullable=False),
    sa.Column("head_mac", _text, nullable=False),
)
idempotent_requests = sa.Table(
    "idempotent_requests",
    metadata,
    sa.Column("caller", _text, primary_key=True),
    sa.Column("idempotency_key", _text, primary_key=True),
    sa.Column("body_sha256", _text, nullable=False),
    sa.Column("recorded_at", _text, nullable=False),
)
"""The `Idempotency-Key` of each `outcomes` request recorded with one, per caller: a retry of the
same request finds its key and records nothing again. Not chained: it holds no decision, only
which requests were already taken (the records they added are chained)."""
records_format = sa.Table(
    "records_format",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("since", _text, nullable=False),
)
"""Which layout of the records this database holds (one row). A database is opened only in the
layout this code writes; an older one is brought up to it once, by `anbu migrate`."""
RECORDS_FORMAT = 2
"""1: the tables before the layout carried its version (some without care marks, survey samples,
idempotency keys or the read indexes); 2: all of them, and this table."""
TABLES_BY_NAME = {
    "visit_outcomes": visit_outcomes,
    "overrides": overrides,
    "care_marks": care_marks,
    "survey_samples": survey_samples,
    "audit": audit_log,
}
"""The chained tables by name: what the store writes and `anbu records verify` re-reads."""
_CHAIN_COLUMNS = ("id", "prev_hash", "row_hash")
TABLES: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if c.name not in _CHAIN_COLUMNS)
    for name, table in TABLES_BY_NAME.items()
}
"""Each record table's columns besides id and its chain, in the order they are hashed."""


class RecordsUnavailable(RuntimeError):
    """The records database cannot be written now (locked by another process, or unreachable)."""


class RecordsOutdated(RuntimeError):
    """The records database is in another layout than this code's: `anbu migrate` brings an older
    one up to date once; a newer one needs the anbu that wrote it."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sqlite_guards() -> list[str]:
    guards = [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
        for table in TABLES
        for verb in ("UPDATE", "DELETE")
    ]
    guards += [
        """CREATE TRIGGER IF NOT EXISTS chain_heads_no_delete BEFORE DELETE ON chain_heads
            BEGIN SELECT RAISE(ABORT, 'chain_heads only move forward'); END""",
        """CREATE TRIGGER IF NOT EXISTS chain_heads_forward BEFORE UPDATE ON chain_heads
            WHEN NEW.last_id <= OLD.last_id OR NEW.chain <> OLD.chain
            BEGIN SELECT RAISE(ABORT, 'chain_heads only move forward'); END""",
    ]
    return guards


def _postgres_guards() -> list[str]:
    guards = [
        """CREATE OR REPLACE FUNCTION anbu_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$""",
        """CREATE OR REPLACE FUNCTION anbu_heads_forward() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP <> 'UPDATE' OR NEW.last_id <= OLD.last_id OR NEW.chain <> OLD.chain THEN
               RAISE EXCEPTION 'chain_heads only move forward';
             END IF;
             RETURN NEW;
           END $$""",
    ]
    for table in TABLES:
        guards += [
            f"""CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION anbu_append_only()""",
            f"""CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION anbu_append_only()""",
        ]
    guards += [
        """CREATE OR REPLACE TRIGGER chain_heads_forward BEFORE UPDATE OR DELETE ON chain_heads
           FOR EACH ROW EXECUTE FUNCTION anbu_heads_forward()""",
        """CREATE OR REPLACE TRIGGER chain_heads_no_truncate BEFORE TRUNCATE ON chain_heads
           FOR EACH STATEMENT EXECUTE FUNCTION anbu_append_only()""",
    ]
    return guards


def records_url(location: str | Path) -> str:
    """A SQLAlchemy URL: given as one, or a path to the SQLite file."""
    text = str(location)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def load_secret(path: Path, create: bool = True) -> bytes:
    """The chain key. Created once (0600) for a new record; never printed or logged."""
    path = Path(path)
    if not path.is_file():
        if not create:
            raise FileNotFoundError(f"{path}: the records' chain key is missing; verify needs it")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def _canonical(table: str, row_id: int, prev_hash: str, row: dict) -> bytes:
    values = [row.get(column) for column in TABLES[table]]
    return json.dumps([table, row_id, prev_hash, values], ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(secret: bytes, table: str, row_id: int, prev_hash: str, row: dict) -> str:
    return hmac.new(secret, _canonical(table, row_id, prev_hash, row), hashlib.sha256).hexdigest()


def head_mac(secret: bytes, chain: str, last_id: int, last_hash: str) -> str:
    message = json.dumps(["head", chain, last_id, last_hash]).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RequestOnce:
    """An `outcomes` request's idempotency key (the caller's own) and its body's SHA-256."""

    key: str
    body_sha256: str


def audit_row(
    caller: str, role: str, endpoint: str, households: list[str], detail: dict | None = None
) -> dict:
    """One audit row: who, when, which endpoint, which households."""
    return {
        "at": _now(),
        "caller": caller,
        "role": role,
        "endpoint": endpoint,
        "households": json.dumps(households, ensure_ascii=False),
        "detail": json.dumps(detail or {}, ensure_ascii=False),
    }


class IdempotencyKeyReused(ValueError):
    """The caller used this idempotency key before, for another body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used before for another body")
        self.key = key


@dataclass(frozen=True)
class Override:
    household_id: str
    action: str
    reason: str
    recorded_by: str
    recorded_at: str
    round_date: str = ""
    """The round the decision was recorded for: an exclusion stands in later rounds too."""


def standing_decisions(decisions: list[Override], round_date: str) -> dict[str, Override]:
    """Which planner decision holds for each household in the round `round_date`, from every
    decision recorded for it and earlier rounds, in the order they were recorded (round, then id).

    An `include` asks for a place on one round's list and holds for that round only. An `exclude`
    says a household should not be visited from the outreach list ("already in case management")
    and stands in later rounds until a planner ends it — by `withdraw`, or by including it — so a
    household does not come back next round as new with nobody remembering why it was left out.
    `withdraw` cancels whatever holds (that round's include or the standing exclusion).
    """
    holding: dict[str, Override] = {}
    for decision in decisions:
        household = decision.household_id
        if decision.action == "withdraw":
            holding.pop(household, None)
        else:  # include or exclude: the later decision replaces the earlier
            holding[household] = decision
    return {
        household: decision
        for household, decision in holding.items()
        if decision.action == "exclude" or decision.round_date == round_date
    }


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _on_connect(connection, _record) -> None:
            connection.isolation_level = None  # transactions are ours (BEGIN IMMEDIATE below)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=10000")

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            if connection.get_execution_options().get("reading", False):
                # A read sees the last commit and, in WAL mode, neither waits for nor stops a writer.
                connection.exec_driver_sql("BEGIN DEFERRED")
                return
            # The safety level can only change between transactions, so it is set here, first.
            durable = connection.get_execution_options().get("durable", True)
            connection.exec_driver_sql(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            # Take the write lock at the start, so two writers queue instead of one failing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, connect_args={"connect_timeout": 5})


def _visit_row(visit: dict, recorded_by: str, at: str) -> dict:
    return {
        "household_id": visit["household_id"],
        "visited_on": str(visit["visited_on"]),
        "outcome": visit["outcome"],
        "checklist_score": visit.get("checklist_score"),
        "trigger": visit.get("trigger") or "system_list",
        "note": visit.get("note"),
        "recorded_by": recorded_by,
        "recorded_at": at,
    }


def _override_row(override: dict, round_date: date, recorded_by: str, at: str) -> dict:
    return {
        "household_id": override["household_id"],
        "round_date": round_date.isoformat(),
        "action": override["action"],
        "reason": override["reason"],
        "recorded_by": recorded_by,
        "recorded_at": at,
    }


def _care_row(mark: dict, recorded_by: str, at: str) -> dict:
    return {
        "household_id": mark["household_id"],
        "action": mark["action"],
        "reason": mark["reason"],
        "recorded_by": recorded_by,
        "recorded_at": at,
    }


def _layout_of(engine: sa.Engine) -> int | None:
    """The layout a database holds: None when it holds no records tables yet."""
    names = set(sa.inspect(engine).get_table_names())
    if "records_format" in names:
        with engine.connect() as connection:
            return connection.execute(sa.select(sa.func.max(records_format.c.version))).scalar() or 1
    return 1 if names & {*TABLES_BY_NAME, "chain_heads"} else None


def records_layout(location: str | Path) -> int | None:
    """The layout of the records at `location`, read without creating, laying out or keying
    anything (a SQLite file that is not there: None). RecordsOutdated if it is not this code's."""
    url = records_url(location)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    engine = sa.create_engine(url)
    try:
        found = _layout_of(engine)
    finally:
        engine.dispose()
    if found is not None and found != RECORDS_FORMAT:
        raise RecordsOutdated(_outdated(url, found))
    return found


def _outdated(url: str, found: int) -> str:
    return f"the records at {url} are in format {found}, this anbu reads format {RECORDS_FORMAT}: " + (
        "open them with the anbu that wrote them"
        if found > RECORDS_FORMAT
        else "run `anbu migrate --data DIR` once (it adds what this version keeps and changes no record)"
    )


class Records:
    """One record database; safe to share between threads, and between processes (workers)."""

    def __init__(
        self, location: str | Path, secret_file: Path | None = None, *, migrate: bool = False
    ) -> None:
        """Opens a database in this code's layout, or an empty one (which it lays out). An older
        layout is refused (RecordsOutdated) unless `migrate`, which lays out what it lacks and
        stamps the format, changing no record."""
        self.url = records_url(location)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.secret_file = Path(secret_file) if secret_file else _default_secret_file(self.url)
        self._secret = load_secret(self.secret_file)
        self.engine = _engine(self.url)
        self._logging_engine = self.engine.execution_options(durable=False)
        self._reading_engine = self.engine.execution_options(reading=True)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time: threads of one process queue here rather than spin on
        # the file lock; PostgreSQL's row lock on the chain head orders writers itself.
        self._local = threading.Lock() if self.dialect == "sqlite" else nullcontext()
        found = _layout_of(self.engine)
        self.found_format = found
        """The layout the database held when opened (None: it held no records yet)."""
        if found == RECORDS_FORMAT:
            return
        if found is not None and (found > RECORDS_FORMAT or not migrate):
            raise RecordsOutdated(_outdated(self.url, found))
        self._create()

    def _create(self) -> None:
        with self._transaction() as connection:
            metadata.create_all(connection)
            FINDINGS_INDEX.create(connection, checkfirst=True)
            DECISIONS_INDEX.create(connection, checkfirst=True)
            for statement in _sqlite_guards() if self.dialect == "sqlite" else _postgres_guards():
                connection.exec_driver_sql(statement)
            for chain in TABLES:
                exists = connection.execute(
                    sa.select(chain_heads.c.chain).where(chain_heads.c.chain == chain)
                ).first()
                if exists is None:
                    connection.execute(
                        chain_heads.insert().values(
                            chain=chain,
                            last_id=0,
                            last_hash=GENESIS,
                            head_mac=head_mac(self._secret, chain, 0, GENESIS),
                        )
                    )
            connection.execute(records_format.delete())
            connection.execute(records_format.insert().values(version=RECORDS_FORMAT, since=_now()))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[Connection]:
        """`durable=False` for the audit log: committed before the caller goes on, not waited onto disk."""
        engine = self.engine if durable else self._logging_engine
        try:
            with self._local, engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                    if not durable:
                        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield connection
        except sa.exc.OperationalError as error:
            raise RecordsUnavailable(_unavailable(error)) from None

    def _insert(self, table: str, rows: list[dict]) -> list[int]:
        """Append rows, each chained to the one before, and move the table's head; all or none."""
        if not rows:
            return []
        with self._transaction(durable=table != "audit") as connection:
            return self._append(connection, table, rows)

    def _append(self, connection: Connection, table: str, rows: list[dict]) -> list[int]:
        if not rows:
            return []
        ids, appended = [], []
        head = select_head(connection, table, lock=True)
        last_id, last = head.last_id, head.last_hash
        for row in rows:
            last_id += 1
            digest = row_hash(self._secret, table, last_id, last, row)
            appended.append({"id": last_id, "prev_hash": last, "row_hash": digest, **row})
            last = digest
            ids.append(last_id)
        connection.execute(_APPEND[table], appended)
        connection.execute(
            _MOVE_HEAD,
            {
                "head_chain": table,
                "new_id": last_id,
                "new_hash": last,
                "new_mac": head_mac(self._secret, table, last_id, last),
            },
        )
        return ids

    def record_feedback(
        self,
        visits: list[dict],
        overrides: list[dict],
        care: list[dict],
        round_date: date,
        recorded_by: str,
        once: RequestOnce | None = None,
        audited: dict | None = None,
    ) -> tuple[list[int], list[int], list[int]] | None:
        """One `outcomes` request's visits, overrides and care marks: all recorded or none, so a
        failure halfway never leaves the visits stored and the decisions that came with them lost.
        The tables' heads are locked in one order, so two such requests cannot deadlock.

        With `once` (the caller's idempotency key and the body's digest), a request whose key this
        caller used before records nothing and returns None: the same body is a retry, another body
        under the same key is refused (IdempotencyKeyReused). The key is kept in the same
        transaction as the records, so a request is taken whole and once, or not at all; so is
        `audited`, an audit row (a correction's) written only if the records are."""
        try:
            return self._record_feedback(visits, overrides, care, round_date, recorded_by, once, audited)
        except sa.exc.IntegrityError:
            if once is None or self.taken(once, recorded_by) is None:
                raise
            return self._record_feedback(visits, overrides, care, round_date, recorded_by, once, audited)

    def _record_feedback(self, visits, overrides, care, round_date, recorded_by, once, audited):
        at = _now()
        with self._transaction() as connection:
            if once is not None:
                earlier = self.taken(once, recorded_by, connection)
                if earlier is not None:
                    if earlier != once.body_sha256:
                        raise IdempotencyKeyReused(once.key)
                    return None
                connection.execute(
                    idempotent_requests.insert().values(
                        caller=recorded_by,
                        idempotency_key=once.key,
                        body_sha256=once.body_sha256,
                        recorded_at=at,
                    )
                )
            ids = (
                self._append(connection, "visit_outcomes", [_visit_row(v, recorded_by, at) for v in visits]),
                self._append(
                    connection,
                    "overrides",
                    [_override_row(o, round_date, recorded_by, at) for o in overrides],
                ),
                self._append(connection, "care_marks", [_care_row(m, recorded_by, at) for m in care]),
            )
            if audited is not None:
                self._append(connection, "audit", [{**audited, "at": at}])  # the records' own time
            return ids

    def taken(self, once: RequestOnce, caller: str, connection: Connection | None = None) -> str | None:
        """The body digest an earlier request of `caller` was taken with under this key, if any."""
        query = sa.select(idempotent_requests.c.body_sha256).where(
            idempotent_requests.c.caller == caller, idempotent_requests.c.idempotency_key == once.key
        )
        if connection is not None:
            return connection.execute(query).scalar()
        with self._reading() as reading:
            return reading.execute(query).scalar()

    def record_survey_sample(self, households: list[str], sweep: str, recorded_by: str) -> list[int]:
        """The households a screening sweep drew, recorded before anyone visits them."""
        at = _now()
        rows = [
            {"household_id": household, "sweep": sweep, "recorded_by": recorded_by, "recorded_at": at}
            for household in dict.fromkeys(households)
        ]
        return self._insert("survey_samples", rows)

    def drawn_for_survey(self, households: list[str]) -> dict[str, list[date]]:
        """Of these households, those some recorded screening sweep drew, with the (Seoul) days
        their samples were recorded, earliest first."""
        if not households:
            return {}
        query = (
            sa.select(survey_samples.c.household_id, survey_samples.c.recorded_at)
            .where(survey_samples.c.household_id.in_(sorted(set(households))))
            .order_by(survey_samples.c.id)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        drawn: dict[str, list[date]] = {}
        for household, recorded_at in rows:
            drawn.setdefault(household, []).append(seoul_day(recorded_at))
        return {household: sorted(days) for household, days in drawn.items()}

    def record_outcomes(self, outcomes: list[dict], recorded_by: str) -> list[int]:
        """Visit outcomes (household_id, visited_on, outcome, checklist_score, trigger, note)."""
        at = _now()
        return self._insert("visit_outcomes", [_visit_row(o, recorded_by, at) for o in outcomes])

    def record_overrides(self, overrides: list[dict], round_date: date, recorded_by: str) -> list[int]:
        at = _now()
        return self._insert("overrides", [_override_row(o, round_date, recorded_by, at) for o in overrides])

    def overrides_for(self, round_date: date) -> dict[str, Override]:
        """The decision per household that holds in a round (standing_decisions: an include for its
        round, an exclusion until it is withdrawn or the household included). It reads every
        decision up to the round (DECISIONS_INDEX): thousands of rows in a city's year."""
        query = (
            sa.select(
                overrides.c.household_id,
                overrides.c.action,
                overrides.c.reason,
                overrides.c.recorded_by,
                overrides.c.recorded_at,
                overrides.c.round_date,
            )
            .where(overrides.c.round_date <= round_date.isoformat())
            .order_by(overrides.c.round_date, overrides.c.id)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        return standing_decisions([Override(*row) for row in rows], round_date.isoformat())

    def knowledge(self, since: date) -> Knowledge:
        """The positive findings recorded from `since` and every care mark, in one read (a list
        and the previous round's list are built from the same rows)."""
        findings = (
            sa.select(
                visit_outcomes.c.household_id,
                visit_outcomes.c.visited_on,
                visit_outcomes.c.recorded_at,
            )
            .where(visit_outcomes.c.outcome.in_(POSITIVE_OUTCOMES))
            .where(visit_outcomes.c.visited_on >= since.isoformat())
            .distinct()
        )
        marks = sa.select(
            care_marks.c.household_id,
            care_marks.c.action,
            care_marks.c.reason,
            care_marks.c.recorded_by,
            care_marks.c.recorded_at,
        ).order_by(care_marks.c.id)
        with self._reading() as connection:
            found = connection.execute(findings).all()
            events = connection.execute(marks).all()
        return Knowledge(
            tuple(
                (household_id, date.fromisoformat(day), seoul_day(recorded_at))
                for household_id, day, recorded_at in found
            ),
            tuple(CareEvent(*row) for row in events),
        )

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read never takes the write lock (SQLite: a deferred transaction), so a list is not
        held up behind a writer; PostgreSQL's reads take no lock to begin with."""
        try:
            with self._reading_engine.connect() as connection:
                yield connection
        except sa.exc.OperationalError as error:
            raise RecordsUnavailable(_unavailable(error)) from None

    def audit(
        self, caller: str, role: str, endpoint: str, households: list[str], detail: dict | None = None
    ) -> None:
        self._insert("audit", [audit_row(caller, role, endpoint, households, detail)])

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise ValueError(f"unknown record table {name}")
        with self._reading() as connection:
            return pd.read_sql_query(sa.select(TABLES_BY_NAME[name]).order_by(sa.text("id")), connection)

    def heads(self) -> dict[str, tuple[int, str]]:
        """Each table's last id and hash: what to keep elsewhere to catch a rollback."""
        with self._reading() as connection:
            rows = connection.execute(sa.select(chain_heads)).all()
        return {row.chain: (int(row.last_id), row.last_hash) for row in rows}

    def export_visits(self, out: Path) -> int:
        """Recorded outcomes as contract `outreach_visits` rows (Parquet); returns the row count."""
        from features.contract.files import to_arrow
        from features.contract.schemas import SOURCES_BY_NAME

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

    def export_survey_samples(self, out: Path) -> int:
        """Recorded sweep samples as anbu's `survey_samples` rows (Parquet), the day each household
        was first drawn for its sweep: evaluation says from them where its survey labels came from."""
        from features.contract.files import to_arrow
        from features.contract.schemas import SOURCES_BY_NAME

        samples = self.table("survey_samples").drop_duplicates(["household_id", "sweep"], keep="first")
        frame = pd.DataFrame(
            {
                "household_id": samples["household_id"].astype("string"),
                "sweep": samples["sweep"].astype("string"),
                "drawn_on": pd.to_datetime([seoul_day(at) for at in samples["recorded_at"]]).astype(
                    "datetime64[us]"
                ),
            }
        )
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_arrow(frame, SOURCES_BY_NAME["survey_samples"]), out)
        return len(frame)

    @property
    def secret(self) -> bytes:
        return self._secret


# Built once: every scored request appends an audit row, and building these statements anew each
# time was a fifth of a `score` call's CPU.
_HEAD = sa.select(chain_heads).where(chain_heads.c.chain == sa.bindparam("head_chain"))
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_MOVE_HEAD = (
    chain_heads.update()
    .where(chain_heads.c.chain == sa.bindparam("head_chain"))
    .values(
        last_id=sa.bindparam("new_id"), last_hash=sa.bindparam("new_hash"), head_mac=sa.bindparam("new_mac")
    )
)
_APPEND = {name: table.insert() for name, table in TABLES_BY_NAME.items()}


def select_head(connection: Connection, chain: str, lock: bool = False):
    # SQLite's BEGIN IMMEDIATE already holds the write lock
    query = _HEAD_FOR_UPDATE if lock and connection.dialect.name == "postgresql" else _HEAD
    head = connection.execute(query, {"head_chain": chain}).first()
    if head is None:
        raise RuntimeError(f"records: the head of {chain} is missing; run `anbu records verify`")
    return head


def _default_secret_file(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).with_name("records.secret")
    raise ValueError("a records database given by URL needs its chain key file: set ANBU_RECORDS_SECRET_FILE")


def _unavailable(error: sa.exc.OperationalError) -> str:
    text = str(error.orig).splitlines()[0] if error.orig is not None else str(error).splitlines()[0]
    return f"the records database cannot be written now ({text}); retry shortly"
