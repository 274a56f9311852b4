"""What a column's kind means, declared once for every place that reads or writes one.

A kind is the one word the contract (features/contract/schemas.py) and the declared output schemas
(features/output_schema.py) give a column: `string`, `date`, `timestamp`, `integer`, `float` or
`boolean`. From it follow the Arrow type a contract file's column is written with, the dtype its
values have in a typed frame (and so the pandera model's dtype), how a raw delivered value is
parsed into it, which Arrow types a file another engine wrote may carry for it, and the words a
refusal sentence uses for it ("valid_from: '2024-13-01' is not a calendar date (YYYY-MM-DD)").

A kind's parser never casts silently: a present value that does not parse becomes missing, and
features/contract/parsing.py turns it into the refusal sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KindName = Literal["string", "date", "timestamp", "integer", "float", "boolean"]

KST = "Asia/Seoul"

_TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y"})
_FALSE_WORDS = frozenset({"false", "f", "0", "no", "n"})


def as_text(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Raw values as text, whatever their physical type."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return pd.Series(values.to_pandas(), dtype="str")


def _to_naive_kst(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(KST).dt.tz_localize(None)
    return series.astype("datetime64[us]")


def _parse_timestamp(values: pa.Array) -> pd.Series:
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return _to_naive_kst(pd.Series(values.to_pandas()))
    text = as_text(values)
    return _to_naive_kst(pd.to_datetime(text, format="ISO8601", errors="coerce"))


def _parse_date(values: pa.Array) -> pd.Series:
    stamps = _parse_timestamp(values)
    # A calendar date has no time of day; 2024-03-01 14:00 is not a date, it is a mistake.
    return stamps.where(stamps == stamps.dt.normalize())


def _parse_float(values: pa.Array) -> pd.Series:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numbers = pd.Series(values.to_pandas(), dtype="float64")
    elif pa.types.is_decimal(values.type):
        numbers = pd.Series(pc.cast(values, pa.float64()).to_pandas(), dtype="float64")
    else:
        numbers = pd.to_numeric(as_text(values), errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def _parse_integer(values: pa.Array) -> pd.Series:
    if pa.types.is_integer(values.type):
        return pd.Series(values.to_pandas()).astype("Int64")
    numbers = _parse_float(values)
    whole = numbers.where(numbers == np.round(numbers))
    return whole.astype("Int64")


def _parse_boolean(values: pa.Array) -> pd.Series:
    if pa.types.is_boolean(values.type):
        return pd.Series(values.to_pandas()).astype("boolean")
    words = as_text(values).str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=words.index, dtype="boolean")
    parsed[words.isin(_TRUE_WORDS)] = True
    parsed[words.isin(_FALSE_WORDS)] = False
    return parsed


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):  # a categorical pandas column
        return _is_string(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


@dataclass(frozen=True)
class ColumnKind:
    name: KindName
    arrow_type: pa.DataType
    """The Arrow type a contract file's column of this kind is written with."""
    pandas_dtype: str
    """The dtype of its values in a typed frame; a contract model's pandera dtype is this one."""
    parse: Callable[[pa.ChunkedArray | pa.Array], pd.Series]
    """Raw delivered values to `pandas_dtype`; a present value that does not parse is missing."""
    is_arrow: Callable[[pa.DataType], bool]
    """Whether a file's Arrow type is of this kind, up to the differences engines make (DuckDB
    writes `string` where pandas writes `large_string`, Spark its timestamps with a time zone)."""
    expected: str
    """What a value of this kind is, in a refusal sentence: "'x' is not {expected}"."""


KINDS: dict[KindName, ColumnKind] = {
    kind.name: kind
    for kind in (
        ColumnKind("string", pa.string(), "str", as_text, _is_string, "text"),
        ColumnKind(
            "date",
            pa.date32(),
            "datetime64[us]",
            _parse_date,
            pa.types.is_date,
            "a calendar date (YYYY-MM-DD)",
        ),
        ColumnKind(
            "timestamp",
            pa.timestamp("us"),  # naive, KST
            "datetime64[us]",
            _parse_timestamp,
            pa.types.is_timestamp,
            "a timestamp (YYYY-MM-DD HH:MM:SS, KST)",
        ),
        ColumnKind("integer", pa.int64(), "Int64", _parse_integer, pa.types.is_integer, "a whole number"),
        ColumnKind("float", pa.float64(), "float64", _parse_float, pa.types.is_floating, "a finite number"),
        ColumnKind("boolean", pa.bool_(), "boolean", _parse_boolean, pa.types.is_boolean, "true or false"),
    )
}
