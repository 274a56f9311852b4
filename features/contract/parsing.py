"""Turn raw delivered values into the contract's types, naming every value that does not parse.

CSV deliveries arrive as text and Parquet deliveries may use a neighbouring physical type (an int
column for a float, a string column for dates). Parsing is explicit per column kind so that a bad
value becomes a quarantine reason ("valid_from: '2024-13-01' is not a calendar date") instead of a
silent cast — pandas would happily turn the text "False" into True. Text holding a character no
one can see, or one that reorders what they see (features/contract/visible_text.py), is refused
the same way: `H1\u200b` is not the household `H1` it looks like.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.schemas import ColumnKind
from features.contract.visible_text import INVISIBLE_RE2, escaped, refused_in

KST = "Asia/Seoul"

_TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y"})
_FALSE_WORDS = frozenset({"false", "f", "0", "no", "n"})


def _as_text(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return pd.Series(values.to_pandas(), dtype="str")


def _parse_string(values: pa.Array) -> pd.Series:
    return _as_text(values)


def _to_naive_kst(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(KST).dt.tz_localize(None)
    return series.astype("datetime64[us]")


def _parse_timestamp(values: pa.Array) -> pd.Series:
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return _to_naive_kst(pd.Series(values.to_pandas()))
    text = _as_text(values)
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
        numbers = pd.to_numeric(_as_text(values), errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def _parse_int(values: pa.Array) -> pd.Series:
    if pa.types.is_integer(values.type):
        return pd.Series(values.to_pandas()).astype("Int64")
    numbers = _parse_float(values)
    whole = numbers.where(numbers == np.round(numbers))
    return whole.astype("Int64")


def _parse_bool(values: pa.Array) -> pd.Series:
    if pa.types.is_boolean(values.type):
        return pd.Series(values.to_pandas()).astype("boolean")
    words = _as_text(values).str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=words.index, dtype="boolean")
    parsed[words.isin(_TRUE_WORDS)] = True
    parsed[words.isin(_FALSE_WORDS)] = False
    return parsed


_PARSERS: dict[ColumnKind, Callable[[pa.Array], pd.Series]] = {
    "string": _parse_string,
    "date": _parse_date,
    "timestamp": _parse_timestamp,
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
}

_EXPECTED: dict[ColumnKind, str] = {
    "string": "text",
    "date": "a calendar date (YYYY-MM-DD)",
    "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS, KST)",
    "int": "a whole number",
    "float": "a finite number",
    "bool": "true or false",
}


def _printable_ascii(chunk: pa.Array) -> bool:
    """Whether every byte the string chunk's values span is printable ASCII (U+0020-U+007E),
    which no refused character is: one pass over the bytes instead of a regex per value."""
    if len(chunk) == 0:
        return True
    offsets = np.frombuffer(
        chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    )
    first, last = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    if first == last:
        return True
    spanned = pa.Array.from_buffers(
        pa.uint8(), last - first, [None, chunk.buffers()[2].slice(first, last - first)]
    )
    low, high = pc.min_max(spanned).values()
    return low.as_py() >= 0x20 and high.as_py() <= 0x7E


def _invisible(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row, whether the value holds a refused character; vectorised, chunk by chunk."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    found = []
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = pc.cast(chunk, pa.string())
        if _printable_ascii(chunk):
            found.append(np.zeros(len(chunk), dtype=bool))
        else:
            matched = pc.match_substring_regex(chunk, INVISIBLE_RE2).fill_null(False)
            found.append(matched.to_numpy(zero_copy_only=False))
    return np.concatenate(found) if found else np.zeros(0, dtype=bool)


def _invisible_reasons(column: str, text: pd.Series) -> pd.Series:
    return text.map(
        lambda value: (
            f"{column}: '{escaped(value)}' contains {', '.join(refused_in(value))}, "
            "which no one can see or which reorders the text"
        )
    ).astype("str")


def parse_column(values: pa.Array, kind: ColumnKind, column: str) -> tuple[pd.Series, pd.Series]:
    """Parse one raw column; return the typed values and, per row, why the raw value was refused.

    The reason is an empty string where the value parsed or was genuinely missing (missing values
    are judged later by the schema's nullability, not here). A refused value is missing in the
    typed column.
    """
    typed = _PARSERS[kind](values)
    raw_present = pd.Series(values.is_valid().to_numpy(zero_copy_only=False), index=typed.index)
    refused = raw_present & typed.isna()
    reasons = pd.Series("", index=typed.index, dtype="str")
    if refused.any():
        raw_text = _as_text(values)[refused]
        reasons[refused] = column + ": " + raw_text.map(repr) + f" is not {_EXPECTED[kind]}"
    if kind == "string":
        invisible = pd.Series(_invisible(values), index=typed.index)
        if invisible.any():
            reasons[invisible] = _invisible_reasons(column, typed[invisible])
            typed = typed.mask(invisible)
    return typed, reasons
