"""Turn raw delivered values into the contract's types, naming every value that does not parse.

CSV deliveries arrive as text and Parquet deliveries may use a neighbouring physical type (an int
column for a float, a string column for dates). Parsing is explicit per column kind (the kind's
parser and words, features/column_kinds.py) so that a bad value becomes a quarantine reason
("valid_from: '2024-13-01' is not a calendar date") instead of a silent cast — pandas would
happily turn the text "False" into True. Text holding a character no one can see, or one that
reorders what they see (features/contract/visible_text.py), is refused the same way: `H1\u200b`
is not the household `H1` it looks like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.column_kinds import ColumnKind, as_text
from features.contract.visible_text import INVISIBLE_RE2, escaped, refused_in


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
    typed = kind.parse(values)
    raw_present = pd.Series(values.is_valid().to_numpy(zero_copy_only=False), index=typed.index)
    refused = raw_present & typed.isna()
    reasons = pd.Series("", index=typed.index, dtype="str")
    if refused.any():
        raw_text = as_text(values)[refused]
        reasons[refused] = column + ": " + raw_text.map(repr) + f" is not {kind.expected}"
    if kind.name == "string":
        invisible = pd.Series(_invisible(values), index=typed.index)
        if invisible.any():
            reasons[invisible] = _invisible_reasons(column, typed[invisible])
            typed = typed.mask(invisible)
    return typed, reasons
