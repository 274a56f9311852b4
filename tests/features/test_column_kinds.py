"""A column's kind is declared once (features/column_kinds.py) and means the same everywhere."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from pandera.engines import pandas_engine
from pandera.typing import Series

from features.column_kinds import KINDS
from features.contract.files import arrow_schema
from features.contract.schemas import SOURCES, _column, _Contract
from features.output_schema import OutputSchema
from features.round_table import round_schema, training_set_schema
from serving.lists.ranking import LIST_SCHEMA
from serving.scoring.households import SCORE_SCHEMA
from serving.scoring.rounds import FLAT_REASONS

OUTPUT_SCHEMAS = (round_schema(), training_set_schema(), SCORE_SCHEMA, FLAT_REASONS, LIST_SCHEMA)


def test_every_contract_and_output_column_is_of_a_declared_kind() -> None:
    for spec in SOURCES:
        for column in spec.columns:
            assert spec.model.to_schema().columns[column].metadata["kind"] in KINDS, (spec.name, column)
    for schema in OUTPUT_SCHEMAS:
        for name, kind in schema.columns:
            assert isinstance(kind, pa.DataType) or kind in KINDS, (schema.name, name, kind)


def test_a_contract_column_s_pandera_dtype_is_its_kind_s() -> None:
    for spec in SOURCES:
        for column, declared in spec.model.to_schema().columns.items():
            expected = pandas_engine.Engine.dtype(spec.kind(column).pandas_dtype)
            assert declared.dtype == expected, (spec.name, column, declared.dtype, expected)


def test_a_model_whose_annotation_and_kind_disagree_is_refused_when_it_is_declared() -> None:
    with pytest.raises(TypeError, match=r"Drifted\.size is annotated float64 but its kind integer is Int64"):

        class Drifted(_Contract):
            size: Series[float] = _column("integer", "members")

    with pytest.raises(ValueError, match="'int' is not a column kind"):
        _column("int", "members")  # the contract's old spelling


def test_the_arrow_type_written_for_a_kind_is_one_its_output_schema_accepts() -> None:
    every_kind = OutputSchema("every kind", tuple((name, name) for name in KINDS))
    every_kind.check(pa.schema([(name, kind.arrow_type) for name, kind in KINDS.items()]), "written")
    for spec in SOURCES:  # what a contract file is written with reads back as its kinds
        as_output = OutputSchema(spec.name, tuple((c, spec.kind(c).name) for c in spec.columns))
        as_output.check(arrow_schema(spec), spec.name)


def test_a_kind_s_parser_gives_its_pandas_dtype_and_reads_its_own_arrow_type() -> None:
    samples = {
        "string": ["H1"],
        "date": [pd.Timestamp("2025-03-01").date()],
        "timestamp": [pd.Timestamp("2025-03-01 14:00")],
        "integer": [3],
        "float": [0.5],
        "boolean": [True],
    }
    assert set(samples) == set(KINDS)
    for name, kind in KINDS.items():
        parsed = kind.parse(pa.array(samples[name] + [None], kind.arrow_type))
        assert parsed.dtype == pd.Series([], dtype=kind.pandas_dtype).dtype, name
        assert parsed.notna().tolist() == [True, False], name
