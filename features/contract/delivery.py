"""The one reader for a delivery: every later stage reads the city's files through here.

`validate_delivery` streams each contract file in batches (so a Seoul-sized sensor feed never sits in
memory), checks every row against the declared schema, and writes two things per file: the
accepted rows, typed, as Parquet, and a quarantine file holding every refused row as delivered,
with its row number and the reasons. Rules that need the whole file — repeated deliveries of the
same fact, household ids missing from the registry, overlapping registry periods — run afterwards
in DuckDB over the accepted rows. Nothing is dropped silently: for every file,
read = accepted + quarantined.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from anbu.data_folder import DataFolder
from features.contract.files import arrow_schema, find_source_file
from features.contract.row_checks import BLANKED, REASON, ROW, check_batch
from features.contract.schemas import SOURCES, SOURCES_BY_NAME, SourceSpec
from features.reference import UNKNOWN_INDICATOR_CATEGORY, indicator_categories

BATCH_ROWS = 1_000_000
REPORT_FILE = "validation.json"
QUARANTINE_DIR = "quarantine"

Progress = Callable[[str, int, int | None], None]
"""Called as (source name, rows read so far, rows in the file if known)."""


class ContractError(Exception):
    """A delivery that cannot be read at all: a required file or column is missing."""


@dataclass
class SourceReport:
    """What happened to one contract file:
    `rows_read == rows_accepted_whole + rows_blanked + rows_quarantined`."""

    name: str
    file: str | None = None
    sha256: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    """Rows kept: whole, or with attributes blanked."""
    rows_accepted_whole: int = 0
    rows_blanked: int = 0
    """Rows kept with implausible, inconsistent or missing attributes blanked (listed, with their
    reasons and the columns blanked, in the quarantine file)."""
    rows_quarantined: int = 0
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    """Quarantine reasons with their values masked, and how many rows carry each."""
    unknown_indicators: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    note: str = ""
    fingerprint: list[int] = field(default_factory=list)
    """Size and modification time of the delivered file, to notice a changed delivery cheaply."""

    @property
    def delivered(self) -> bool:
        return self.file is not None


@dataclass
class DeliveryReport:
    data_dir: str
    out_dir: str
    sources: list[SourceReport]

    def source(self, name: str) -> SourceReport:
        return next(s for s in self.sources if s.name == name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> DeliveryReport:
        raw = json.loads(text)
        return cls(raw["data_dir"], raw["out_dir"], [SourceReport(**s) for s in raw["sources"]])


def default_out_dir(data_dir: Path) -> Path:
    """Where accepted and quarantined rows go unless told otherwise: beside the delivery."""
    return DataFolder(data_dir).validated


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _masked(reason: str) -> str:
    """A reason with the row's own values masked, so the summary groups like with like (a
    character named as U+XXXX is the kind of fault, not a value, and stays)."""
    masked = re.sub(r"'[^']*'", "…", reason)
    return re.sub(r"(?<![\w])(?<!U\+)-?\d+(\.\d+)?(?![\w])", "N", masked)


def _delivered_columns(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    with path.open("r", encoding="utf-8-sig") as handle:
        header = handle.readline().rstrip("\r\n")
    return [column.strip().strip('"') for column in header.split(",")] if header else []


@dataclass
class _MalformedLines:
    """CSV lines with the wrong number of fields, kept for quarantine instead of crashing.

    pyarrow's streaming reader skips such lines but cannot say where they were, so when it meets
    any, the file is scanned once more with the csv module to find their row numbers.
    """

    rows: dict[int, str] = field(default_factory=dict)
    """Data row number (1-based, header excluded) -> reason."""

    @classmethod
    def scan(cls, path: Path) -> _MalformedLines:
        found = 0

        def count(_: pacsv.InvalidRow) -> str:
            nonlocal found
            found += 1
            return "skip"

        for _ in _csv_reader(path, columns=None, on_invalid=count):
            pass
        malformed = cls()
        if found:
            with path.open("r", encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                expected = len(next(reader, []))
                for row, fields in enumerate(reader, start=1):
                    if len(fields) != expected and fields:
                        malformed.rows[row] = (
                            f"line {reader.line_num} has {len(fields)} fields, expected {expected}"
                        )
        return malformed


def _csv_reader(
    path: Path, columns: list[str] | None, on_invalid: Callable[[pacsv.InvalidRow], str]
) -> pacsv.CSVStreamingReader:
    header = _delivered_columns(path)
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=64 << 20, encoding="utf8"),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={column: pa.string() for column in header},
            include_columns=columns or [],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _raw_batches(path: Path, spec: SourceSpec) -> Iterator[pa.Table]:
    columns = list(spec.columns)
    if path.suffix == ".parquet":
        batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)
    else:
        batches = _csv_reader(path, columns, on_invalid=lambda _: "skip")
    for batch in batches:
        yield pa.Table.from_batches([batch])


def _row_numbers(first: int, count: int, skipped: set[int]) -> pd.Series:
    """Row numbers for `count` well-formed rows starting at `first`, stepping over skipped ones."""
    numbers: list[int] = []
    candidate = first
    if not skipped:
        return pd.Series(range(first, first + count), dtype="int64")
    while len(numbers) < count:
        if candidate not in skipped:
            numbers.append(candidate)
        candidate += 1
    return pd.Series(numbers, dtype="int64")


def _quarantine_schema(spec: SourceSpec) -> pa.Schema:
    return pa.schema(
        [pa.field(c, pa.string()) for c in spec.columns]
        + [pa.field(ROW, pa.int64()), pa.field(REASON, pa.string()), pa.field(BLANKED, pa.string())]
    )


def _staging_schema(spec: SourceSpec) -> pa.Schema:
    return arrow_schema(spec).append(pa.field(ROW, pa.int64()))


class _FileValidation:
    """Validate one delivered file into a staging file plus its quarantine file."""

    def __init__(self, spec: SourceSpec, path: Path, out_dir: Path, progress: Progress | None):
        self.spec = spec
        self.path = path
        self.staging = out_dir / ".staging" / f"{spec.name}.parquet"
        self.quarantine = out_dir / QUARANTINE_DIR / f"{spec.name}.parquet"
        self.progress = progress
        self.report = SourceReport(name=spec.name, file=path.name)
        self.reasons: Counter[str] = Counter()
        self.blanked_rows: list[np.ndarray] = []

    def run(self, con: duckdb.DuckDBPyConnection, final: Path, registry: Path | None) -> None:
        self._check_columns()
        self.report.sha256 = _sha256(self.path)
        self.report.fingerprint = _fingerprint(self.path)
        for directory in (self.staging.parent, self.quarantine.parent):
            directory.mkdir(parents=True, exist_ok=True)
        quarantine = pq.ParquetWriter(self.quarantine, _quarantine_schema(self.spec), compression="zstd")
        try:
            self._first_pass(quarantine)
            self._whole_file_rules(con, final, registry, quarantine)
        finally:
            quarantine.close()
            self.staging.unlink(missing_ok=True)
        self.report.reasons = dict(self.reasons.most_common())
        self.report.rows_quarantined = self.report.rows_read - self.report.rows_accepted
        self.report.rows_accepted_whole = self.report.rows_accepted - self.report.rows_blanked

    def _check_columns(self) -> None:
        delivered = _delivered_columns(self.path)
        missing = [c for c in self.spec.columns if c not in delivered]
        if missing:
            raise ContractError(
                f"{self.path}: required column(s) {', '.join(missing)} missing "
                f"(the file has: {', '.join(delivered) or 'no columns'}). "
                + (
                    f"See features/contract/schemas.py, {self.spec.model.__name__} (anbu's own file)."
                    if self.spec.evaluation_only
                    else f"See features/reference/SOURCES.md, section {self.spec.name}."
                )
            )
        self.report.ignored_columns = [c for c in delivered if c not in self.spec.columns]

    def _quarantine(self, writer: pq.ParquetWriter, frame: pd.DataFrame, kept: bool = False) -> None:
        if frame.empty:
            return
        if BLANKED not in frame:
            frame = frame.assign(**{BLANKED: pd.Series([None] * len(frame), dtype="str")})
        writer.write_table(pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False))
        suffix = " (blanked; row kept)" if kept else ""
        # Mask each distinct reason once: a bad delivery repeats a few sentences many times.
        for reason, rows in frame[REASON].value_counts(sort=False).items():
            for part in str(reason).split("; "):
                self.reasons[_masked(part) + suffix] += int(rows)

    def _first_pass(self, quarantine: pq.ParquetWriter) -> None:
        malformed = _MalformedLines.scan(self.path) if self.path.suffix == ".csv" else None
        total = pq.ParquetFile(self.path).metadata.num_rows if self.path.suffix == ".parquet" else None
        next_row = 1
        with pq.ParquetWriter(self.staging, _staging_schema(self.spec), compression="zstd") as staging:
            skipped = set(malformed.rows) if malformed else set()
            for raw in _raw_batches(self.path, self.spec):
                rows = _row_numbers(next_row, raw.num_rows, skipped)
                verdict = check_batch(raw, self.spec, first_row=1)
                verdict.accepted[ROW] = rows.iloc[verdict.accepted[ROW] - 1].to_numpy()
                verdict.quarantined[ROW] = rows.iloc[verdict.quarantined[ROW] - 1].to_numpy()
                verdict.blanked[ROW] = rows.iloc[verdict.blanked[ROW] - 1].to_numpy()
                self._quarantine(quarantine, verdict.blanked, kept=True)
                self.blanked_rows.append(verdict.blanked[ROW].to_numpy(dtype="int64"))
                if not verdict.accepted.empty:
                    staging.write_table(
                        pa.Table.from_pandas(verdict.accepted, schema=staging.schema, preserve_index=False)
                    )
                self._quarantine(quarantine, verdict.quarantined)
                self.report.rows_read += raw.num_rows
                if raw.num_rows:
                    next_row = int(rows.iloc[-1]) + 1
                if self.progress:
                    self.progress(self.spec.name, self.report.rows_read, total)
        if malformed and malformed.rows:
            frame = pd.DataFrame(
                {c: pd.Series([None] * len(malformed.rows), dtype="str") for c in self.spec.columns}
            )
            frame[ROW] = list(malformed.rows)
            frame[REASON] = list(malformed.rows.values())
            self._quarantine(quarantine, frame)
            self.report.rows_read += len(malformed.rows)

    def _whole_file_rules(
        self,
        con: duckdb.DuckDBPyConnection,
        final: Path,
        registry: Path | None,
        quarantine: pq.ParquetWriter,
    ) -> None:
        """Find rows the whole-file rules refuse, then split staging in one ordered pass."""
        rules = whole_file_rules(self.spec, registry)
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM read_parquet('{self.staging}')")
        rejected = pd.DataFrame({ROW: pd.Series(dtype="int64"), REASON: pd.Series(dtype="str")})
        if rules:
            rejected = con.execute(
                f"SELECT {ROW}, string_agg({REASON}, '; ' ORDER BY {REASON}) AS {REASON} "
                f"FROM ({' UNION ALL '.join(rules)}) GROUP BY {ROW}"
            ).df()
        reason_of = dict(zip(rejected[ROW].tolist(), rejected[REASON].tolist(), strict=True))
        refused_rows = np.sort(rejected[ROW].to_numpy(dtype="int64"))
        blanked = np.concatenate(self.blanked_rows) if self.blanked_rows else np.array([], dtype="int64")
        # A blanked row that a whole-file rule refuses after all counts as refused.
        self.report.rows_blanked = int((~np.isin(blanked, refused_rows)).sum())
        with pq.ParquetWriter(final, arrow_schema(self.spec), compression="zstd") as accepted:
            for batch in pq.ParquetFile(self.staging).iter_batches(batch_size=BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                rows = table.column(ROW).to_numpy()
                refused = np.isin(rows, refused_rows, assume_unique=True)
                accepted.write_table(
                    table.filter(pa.array(~refused)).drop_columns([ROW]).cast(accepted.schema)
                )
                self.report.rows_accepted += int((~refused).sum())
                if refused.any():
                    frame = _as_text(table.filter(pa.array(refused)), self.spec)
                    frame[REASON] = frame[ROW].map(reason_of)
                    self.report.duplicates += int(frame[REASON].str.contains("duplicate of row").sum())
                    self._quarantine(quarantine, frame)


def _as_text(table: pa.Table, spec: SourceSpec) -> pd.DataFrame:
    """Typed staging rows back as text, for the quarantine file."""
    frame = pd.DataFrame(
        {c: pd.Series(table.column(c).cast(pa.string()).to_pandas(), dtype="str") for c in spec.columns}
    )
    frame[ROW] = table.column(ROW).to_numpy()
    return frame


def whole_file_rules(spec: SourceSpec, registry: Path | None) -> list[str]:
    """SQL selecting (_row, _reason) for rules that need the whole file, over view `staged`."""
    rules: list[str] = []
    if spec.unique_key:
        key = ", ".join(f'"{c}"' for c in spec.unique_key)
        rules.append(
            f"SELECT s.{ROW}, 'duplicate of row ' || d.first_row || ' (same "
            f"{', '.join(spec.unique_key)})' AS {REASON} FROM staged s JOIN "
            f"(SELECT {key}, min({ROW}) AS first_row FROM staged GROUP BY {key} "
            f"HAVING count(*) > 1) d USING ({key}) WHERE s.{ROW} <> d.first_row"
        )
    if spec.in_registry and registry is not None:
        refused = registry.parent / QUARANTINE_DIR / registry.name
        # A household whose registry rows were all refused: its other rows carry that one cause.
        refusals = (
            f"SELECT household_id, min({ROW}) AS registry_row FROM read_parquet('{refused}') "
            f"WHERE {BLANKED} IS NULL GROUP BY household_id"
            if refused.is_file()
            else "SELECT NULL::VARCHAR AS household_id, NULL::BIGINT AS registry_row WHERE false"
        )
        rules.append(
            f"SELECT s.{ROW}, CASE WHEN r.registry_row IS NOT NULL "
            f"THEN 'household_id: ''' || s.household_id || ''': its registry rows were refused "
            f"(households row ' || r.registry_row || ')' "
            f"ELSE 'household_id: ''' || s.household_id || ''' is not in the households registry' END "
            f"AS {REASON} FROM staged s "
            f"ANTI JOIN (SELECT DISTINCT household_id FROM read_parquet('{registry}')) a USING (household_id) "
            f"LEFT JOIN ({refusals}) r USING (household_id)"
        )
    if spec.name == "households":
        rules.append(
            f"SELECT {ROW}, 'validity overlaps row ' || previous_row || ' of the same household' "
            f"AS {REASON} FROM (SELECT {ROW}, valid_from, "
            f"lag(valid_to) OVER w AS previous_to, lag({ROW}) OVER w AS previous_row "
            f"FROM staged WINDOW w AS (PARTITION BY household_id ORDER BY valid_from, {ROW})) "
            f"WHERE previous_row IS NOT NULL AND (previous_to IS NULL OR previous_to > valid_from)"
        )
    return rules


def _unknown_indicators(con: duckdb.DuckDBPyConnection, accepted: Path) -> dict[str, int]:
    known = list(indicator_categories())
    rows = con.execute(
        f"SELECT indicator, count(*) FROM read_parquet('{accepted}') "
        f"WHERE NOT list_contains(?, indicator) GROUP BY 1 ORDER BY 2 DESC, 1",
        [known],
    ).fetchall()
    return {code: int(count) for code, count in rows}


def validate_delivery(
    data_dir: Path, out_dir: Path | None = None, progress: Progress | None = None
) -> DeliveryReport:
    """Validate every contract file in `data_dir`; write accepted and quarantined rows to `out_dir`.

    Raises ContractError, before writing anything, when a required file is missing; and naming
    the file and column when a delivered file lacks a contract column.
    """
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise ContractError(f"{data_dir}: no such data directory")
    out_dir = Path(out_dir).resolve() if out_dir is not None else default_out_dir(data_dir)
    located = {spec.name: find_source_file(data_dir, spec) for spec in SOURCES}
    missing = [s.name for s in SOURCES if s.required and located[s.name] is None]
    if missing:
        raise ContractError(
            f"{data_dir}: required file(s) missing: "
            + ", ".join(f"{name}.parquet (or {name}.csv)" for name in missing)
        )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    reports: list[SourceReport] = []
    registry = out_dir / "households.parquet"
    with duckdb.connect(config={"temp_directory": str(out_dir / ".staging" / "duckdb")}) as con:
        con.execute("SET enable_progress_bar = false")
        for spec in SOURCES:
            path = located[spec.name]
            if path is None:
                reports.append(SourceReport(name=spec.name, note="optional file not delivered"))
                continue
            validation = _FileValidation(spec, path, out_dir, progress)
            validation.run(con, out_dir / f"{spec.name}.parquet", registry)
            if spec.name == "crisis_events":
                validation.report.unknown_indicators = _unknown_indicators(
                    con, out_dir / f"{spec.name}.parquet"
                )
            reports.append(validation.report)
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)
    report = DeliveryReport(str(data_dir), str(out_dir), reports)
    (out_dir / REPORT_FILE).write_text(report.to_json(), encoding="utf-8")
    return report


def ensure_validated(data_dir: Path, progress: Progress | None = None) -> DeliveryReport:
    """The delivery's validated copy, validating again only when a delivered file has changed."""
    data_dir = Path(data_dir).resolve()
    out_dir = default_out_dir(data_dir)
    if (out_dir / REPORT_FILE).is_file():
        report = read_report(out_dir)
        report.out_dir = str(out_dir)  # the delivery may have moved since it was validated
        current = {spec.name: find_source_file(data_dir, spec) for spec in SOURCES}
        # A report from before a source was declared has no line for it: validate again, or a file
        # of that source delivered since would never be read.
        unchanged = {source.name for source in report.sources} == set(current) and all(
            (path is None and not source.delivered)
            or (path is not None and source.file == path.name and source.fingerprint == _fingerprint(path))
            for source in report.sources
            for path in [current[source.name]]
        )
        if unchanged:
            return report
    return validate_delivery(data_dir, out_dir, progress)


def read_report(out_dir: Path) -> DeliveryReport:
    return DeliveryReport.from_json((Path(out_dir) / REPORT_FILE).read_text(encoding="utf-8"))


def read_accepted(out_dir: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Accepted rows of one source as a typed frame (the dtypes the schema declares)."""
    spec = SOURCES_BY_NAME[name]
    path = Path(out_dir) / f"{name}.parquet"
    if not path.is_file():
        if spec.required:
            raise ContractError(f"{path}: not validated yet; run `anbu validate` first")
        table = arrow_schema(spec).empty_table()
    else:
        table = pq.read_table(path, columns=columns)
    frame = table.to_pandas()
    for column in frame.columns:
        frame[column] = frame[column].astype(spec.kind(column).pandas_dtype)
    return frame


def indicator_category(code: str) -> str:
    """The catalogue category of an indicator code; codes not in the catalogue count as `other`."""
    return indicator_categories().get(code, UNKNOWN_INDICATOR_CATEGORY)
