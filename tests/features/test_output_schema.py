"""What the pipeline writes is checked against its declared schema, where written and where read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.output_schema import OutputSchema, OutputSchemaError
from features.round_table import (
    build_training_set,
    round_schema,
    training_set_schema,
    write_round,
    write_table,
)
from serving.scoring.households import SCORE_SCHEMA
from serving.scoring.rounds import RoundUnreadable, ScoredRound, read_round
from tests.support.deliveries import D, write_delivery

PAIR = OutputSchema("pair", (("household_id", "string"), ("risk", "float")))


def test_a_written_round_table_and_training_set_are_what_their_schemas_declare(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    write_round(delivery, D("2025-03-31"), tmp_path / "round.parquet")  # checks itself
    round_schema().check_file(tmp_path / "round.parquet")
    table, manifest = build_training_set(delivery, [D("2025-03-31")])
    write_table(table, manifest, tmp_path / "training.parquet")
    training_set_schema().check_file(tmp_path / "training.parquet")
    with pytest.raises(
        OutputSchemaError, match=r"training\.parquet: not a round table as declared: undeclared \['label'"
    ):
        round_schema().check_file(tmp_path / "training.parquet")


def test_writing_wants_exactly_the_declared_columns_in_order() -> None:
    with pytest.raises(
        OutputSchemaError,
        match=r"out\.parquet: not a pair as declared: missing \['risk'\]; undeclared \['score'\]",
    ):
        PAIR.check(pa.schema([("household_id", pa.string()), ("score", pa.float64())]), "out.parquet")
    with pytest.raises(OutputSchemaError, match="columns out of order"):
        PAIR.check(pa.schema([("risk", pa.float64()), ("household_id", pa.string())]), "out.parquet")
    with pytest.raises(OutputSchemaError, match=r"column risk is string, but a pair declares it float"):
        PAIR.check(pa.schema([("household_id", pa.string()), ("risk", pa.string())]), "out.parquet")


def test_kinds_not_arrow_types_so_every_engine_s_file_reads() -> None:
    spark_like = pa.schema([("household_id", pa.large_string()), ("risk", pa.float32())])
    PAIR.check(spark_like, "part-0.parquet")
    stamped = OutputSchema("stamped", (("round_date", "timestamp"),))
    stamped.check(pa.schema([("round_date", pa.timestamp("us", tz="UTC"))]), "spark")


def _scored_round(tmp_path: Path, **changed: pa.Array) -> ScoredRound:
    rows = 2
    columns: dict[str, pa.Array] = {}
    for name, kind in SCORE_SCHEMA.columns:
        if isinstance(kind, pa.DataType):  # the reasons
            reason = {
                "code": "lives_alone",
                "feature": "lives_alone",
                "text_ko": "1인 가구",
                "text_en": "lives alone",
            }
            columns[name] = pa.array([[reason], []], kind)
            continue
        columns[name] = {
            "string": pa.array(["H1", "H2"]),
            "timestamp": pa.array([pd.Timestamp("2026-05-31")] * rows, pa.timestamp("us")),
            "float": pa.array([0.5, 0.25]),
            "integer": pa.array([1, 2]),
        }[kind]
    columns.update(changed)
    path = tmp_path / "v1.parquet"
    pq.write_table(pa.table(columns), path)
    return ScoredRound(pd.Timestamp("2026-05-31"), "1", path)


def test_a_scored_round_of_the_wrong_kind_is_refused_with_its_file_and_column(tmp_path: Path) -> None:
    assert len(read_round(_scored_round(tmp_path))) == 2
    with pytest.raises(
        RoundUnreadable, match=r"v1\.parquet: column risk is string, but a scored round declares it float"
    ):
        read_round(_scored_round(tmp_path, risk=pa.array(["high", "low"])))
    older = _scored_round(tmp_path)
    pq.write_table(pq.read_table(older.path).drop_columns(["last_finding_on"]), older.path)
    assert read_round(older)["last_finding_on"].isna().all()  # written before the column existed


def test_a_nested_column_is_checked_by_shape_whatever_an_engine_names_its_list_items() -> None:
    listed = OutputSchema("listed", (("reasons", pa.list_(pa.struct([("code", pa.string())]))),))
    spark_like = pa.list_(pa.field("element", pa.struct([("code", pa.large_string())])))
    listed.check(pa.schema([("reasons", spark_like)]), "spark")
    listed.check(pa.schema([("reasons", pa.list_(pa.null()))]), "every list empty")
    for wrong in (
        pa.list_(pa.struct([("name", pa.string())])),  # another field
        pa.list_(pa.struct([("code", pa.int64())])),  # of another kind
        pa.struct([("code", pa.string())]),  # not a list
        pa.string(),
    ):
        with pytest.raises(OutputSchemaError, match="column reasons is"):
            listed.check(pa.schema([("reasons", wrong)]), "x")


def test_a_categorical_string_column_is_a_string_and_a_repeated_column_is_named() -> None:
    PAIR.check(
        pa.schema([("household_id", pa.dictionary(pa.int32(), pa.string())), ("risk", pa.float64())]), "x"
    )
    repeated = pa.schema([("household_id", pa.string()), ("risk", pa.float64()), ("risk", pa.float64())])
    with pytest.raises(OutputSchemaError, match=r"repeated \['risk'\]"):
        PAIR.check(repeated, "x")
