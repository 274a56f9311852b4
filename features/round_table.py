"""One feature row per household in the registry on a round date, and training sets of rounds.

The table's feature columns are exactly the catalogue's, in its order, all float64: the same
columns for every round whatever indicator codes appear, so a model trained on earlier rounds
scores later ones. Zero and missing mean different things and are kept apart: no crisis report is
a count of 0; no sensor is missing, never 0.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from features import catalogue
from features.column_kinds import KindName
from features.contract.delivery import ensure_validated
from features.contract.schemas import FEATURE_INPUTS
from features.delivery_views import connect
from features.labels import (
    FRAMING,
    LABEL_HORIZON_DAYS,
    labels,
    survey_label_sources,
    survey_visit_days,
    survey_visits_by_month,
)
from features.output_schema import OutputSchema

IDENTITY_COLUMNS = ("household_id", "round_date")
AUDIT_COLUMNS = ("gu", "dong_code", "head_sex", "age_band", "housing_type_name")
"""Who the household is, for lists and the fairness audit; never model inputs."""
KNOWN_COLUMNS = ("last_finding_on",)
"""What outreach already knows (the latest visit on or before the round that found the household
isolated or at risk): it decides whether a household belongs on the discovery or the re-check
list (serving/records/known.py), never a model input."""
LABEL_KINDS: tuple[tuple[str, KindName], ...] = (
    ("label", "float"),
    ("label_trigger", "string"),
    ("label_survey", "integer"),
    ("survey_label", "float"),
)
"""The label of a training set (features/labels.py): missing for a household nobody visited."""
LABEL_COLUMNS = tuple(name for name, _ in LABEL_KINDS)


@cache
def round_schema() -> OutputSchema:
    """The round table's declared columns: who, where, every catalogue feature as a float, and
    what outreach already knows."""
    return OutputSchema(
        "round table",
        (
            ("household_id", "string"),
            ("round_date", "timestamp"),
            *((name, "string") for name in AUDIT_COLUMNS),
            *((name, "float") for name in catalogue.names()),
            *((name, "timestamp") for name in KNOWN_COLUMNS),
        ),
    )


@cache
def training_set_schema() -> OutputSchema:
    """A training set: round tables stacked, with the contract's label of each row."""
    return OutputSchema("training set", (*round_schema().columns, *LABEL_KINDS))


AGE_BANDS = (
    (0, 30, "under_30"),
    (30, 40, "30s"),
    (40, 50, "40s"),
    (50, 60, "50s"),
    (60, 70, "60s"),
    (70, 80, "70s"),
    (80, 200, "80_plus"),
)


@dataclass
class RoundManifest:
    round_dates: list[str]
    catalogue_version: str
    inputs: dict[str, str | None]
    """Contract file name -> SHA-256 of the delivered file."""
    rows: int
    households_per_round: dict[str, int]
    build_seconds: float
    label_framing: str | None = None
    labelled_rows: int | None = None
    positive_rows: int | None = None
    feature_columns: list[str] = field(default_factory=list)

    def write(self, table_path: Path) -> Path:
        path = manifest_path(table_path)
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")
        return path


def manifest_path(table_path: Path) -> Path:
    return Path(table_path).with_suffix(".manifest.json")


def _age_band_sql(column: str) -> str:
    cases = " ".join(
        f"WHEN {column} >= {low} AND {column} < {high} THEN '{name}'" for low, high, name in AGE_BANDS
    )
    return f"CASE {cases} END"


def round_join_query(as_of: pd.Timestamp) -> str:
    """The round table from the family tables: the join, the zero-or-missing decision and the
    column order. Plain SQL that DuckDB runs as written and Spark runs transpiled."""
    zero = catalogue.zero_when_absent()
    features = ",\n        ".join(
        f"CAST(coalesce({name}, 0) AS DOUBLE) AS {name}"
        if name in zero
        else f"CAST({name} AS DOUBLE) AS {name}"
        for name in catalogue.names()
    )
    registry, *others = catalogue.FAMILIES
    joins = "\n    ".join(f"LEFT JOIN {family.table} USING (household_id)" for family in others)
    return f"""
    SELECT household_id,
        TIMESTAMP '{as_of.isoformat(sep=" ")}' AS round_date,
        gu, dong_code, head_sex, {_age_band_sql("age")} AS age_band, housing_type_name,
        {features},
        CAST(last_finding_on AS TIMESTAMP) AS last_finding_on
    FROM {registry.table}
    {joins}
    ORDER BY household_id
    """


def _round_query(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> str:
    """Compute each family into a temp table; return the query joining them into the round table.

    The join, the zero-or-missing decision and the column order all happen in DuckDB, so a
    city-sized round never goes through pandas merges (each of which copies the whole table).
    """
    for family in catalogue.FAMILIES:
        query, params = family.query(as_of)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {family.table} AS {query}", params)
    return round_join_query(as_of)


def _round_frame(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    table = con.execute(_round_query(con, as_of)).df()
    for column in ("household_id", *AUDIT_COLUMNS):
        table[column] = table[column].astype("str")
    for column in ("round_date", *KNOWN_COLUMNS):
        table[column] = table[column].astype("datetime64[us]")
    return table


def write_round(data_dir: Path, as_of: pd.Timestamp, out: Path, memory_limit: str = "6GB") -> RoundManifest:
    """Build one round straight into Parquet: bounded memory at city scale (DuckDB spills to disk
    beyond `memory_limit`)."""
    started = time.perf_counter()
    as_of = pd.Timestamp(as_of)
    report = ensure_validated(Path(data_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with connect(Path(report.out_dir), memory_limit=memory_limit) as con:
        con.execute(f"COPY ({_round_query(con, as_of)}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    round_schema().check_file(out)
    manifest = round_manifest(report, [as_of], {as_of.date().isoformat(): rows}, started)
    manifest.write(out)
    return manifest


def round_manifest(
    report, round_dates: list[pd.Timestamp], per_round: dict[str, int], started: float
) -> RoundManifest:
    return RoundManifest(
        round_dates=[d.date().isoformat() for d in round_dates],
        catalogue_version=catalogue.CATALOGUE_VERSION,
        inputs={s.file or s.name: s.sha256 for s in report.sources if s.name in FEATURE_INPUTS},
        rows=sum(per_round.values()),
        households_per_round=per_round,
        build_seconds=round(time.perf_counter() - started, 3),
        feature_columns=catalogue.names(),
    )


def build_round(data_dir: Path, as_of: pd.Timestamp) -> tuple[pd.DataFrame, RoundManifest]:
    """Features of every household registered at the end of `as_of`, using nothing later."""
    return _build(Path(data_dir), [pd.Timestamp(as_of)], with_labels=False)


def build_training_set(data_dir: Path, round_dates: list[pd.Timestamp]) -> tuple[pd.DataFrame, RoundManifest]:
    """Round tables for several dates, stacked, with the contract's label attached."""
    return _build(Path(data_dir), [pd.Timestamp(d) for d in round_dates], with_labels=True)


def _build(
    data_dir: Path, round_dates: list[pd.Timestamp], with_labels: bool
) -> tuple[pd.DataFrame, RoundManifest]:
    started = time.perf_counter()
    report = ensure_validated(data_dir)
    frames = []
    with connect(Path(report.out_dir)) as con:
        for as_of in round_dates:
            frame = _round_frame(con, as_of)
            if with_labels:
                frame = frame.merge(labels(con, as_of), on="household_id", how="left")
                frame["label_survey"] = frame["label_survey"].fillna(0).astype("int64")
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    per_round = {d.date().isoformat(): len(f) for d, f in zip(round_dates, frames, strict=True)}
    manifest = round_manifest(report, round_dates, per_round, started)
    if with_labels:
        manifest.label_framing = f"{FRAMING} (horizon {LABEL_HORIZON_DAYS} days)"
        manifest.labelled_rows = int(table["label"].notna().sum())
        manifest.positive_rows = int((table["label"] == 1).sum())
    return table, manifest


def write_table(table: pd.DataFrame, manifest: RoundManifest, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    (training_set_schema() if manifest.label_framing else round_schema()).check_file(out)
    manifest.write(out)
    return out


def survey_days(data_dir: Path, as_of: pd.Timestamp) -> pd.Series:
    """Days of the survey visits in the 90 days after `as_of` (see labels.survey_visit_days)."""
    report = ensure_validated(Path(data_dir))
    with connect(Path(report.out_dir)) as con:
        return survey_visit_days(con, pd.Timestamp(as_of))


def survey_sources(data_dir: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """Where each survey label of the round came from (see labels.survey_label_sources)."""
    report = ensure_validated(Path(data_dir))
    with connect(Path(report.out_dir)) as con:
        return survey_label_sources(con, pd.Timestamp(as_of))


def survey_calendar(data_dir: Path) -> pd.DataFrame:
    """Survey visits per month of the delivery (see labels.survey_visits_by_month)."""
    report = ensure_validated(Path(data_dir))
    with connect(Path(report.out_dir)) as con:
        return survey_visits_by_month(con)
