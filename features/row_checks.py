"""Check one batch of a contract file row by row: every row is accepted or gets its reasons.

The declared pandera model does the checking; this module only turns pandera's failure cases into
sentences a data scientist can act on and splits the batch, so that accepted + quarantined is
always exactly the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from features.parsing import parse_column
from features.schemas import SourceSpec

ROW = "_row"
"""1-based position of the row in its source file (in a CSV, line = row + 1 for the header)."""
REASON = "_reason"

_MAX_LISTED_VALUES = 8


@dataclass(frozen=True)
class BatchVerdict:
    accepted: pd.DataFrame
    """Typed contract columns plus `_row`."""
    quarantined: pd.DataFrame
    """Contract columns as delivered (text) plus `_row` and `_reason`."""


def _allowed(values: list[object]) -> str:
    if len(values) > _MAX_LISTED_VALUES:
        return f"one of the {len(values)} values the contract lists"
    return "one of " + ", ".join(str(v) for v in values)


def _column_reasons(check: pa.Check | None, column: str, found: pd.Series) -> pd.Series:
    """The sentence for each failure of one column check, built for all its failures at once."""
    stats = (check.statistics or {}) if check is not None else {}
    name = None if check is None else check.name
    if name is None:
        return pd.Series(f"{column}: is missing", index=found.index, dtype="str")
    if name == "str_length":
        return pd.Series(f"{column}: is empty", index=found.index, dtype="str")
    if name == "greater_than_or_equal_to":
        return f"{column}: " + found.astype("str") + f" is below the minimum {stats['min_value']}"
    if name == "less_than_or_equal_to":
        return f"{column}: " + found.astype("str") + f" is above the maximum {stats['max_value']}"
    shown = found.map(repr).astype("str")
    if name == "isin":
        return f"{column}: " + shown + f" is not {_allowed(list(stats['allowed_values']))}"
    return f"{column}: " + shown + f" fails {name}"


def _by_row(index: pd.Index, rows: pd.Series, texts: pd.Series) -> pd.Series:
    """Each row's reasons joined with '; ' in the order they came, one sentence once; '' for
    rows without any. Built column-wise: the cost follows the file, not the count of bad rows."""
    reasons = pd.Series("", index=index, dtype="str")
    if rows.empty:
        return reasons
    found = pd.DataFrame({"row": rows.to_numpy(dtype="int64"), "text": texts.to_numpy(dtype=object)})
    found = found.drop_duplicates().reset_index(drop=True)
    single = ~found["row"].duplicated(keep=False)
    reasons.iloc[found.loc[single, "row"].to_numpy()] = found.loc[single, "text"].to_numpy()
    several = found[~single]
    if not several.empty:
        joined = several.groupby("row", sort=False)["text"].agg("; ".join)
        reasons.iloc[joined.index.to_numpy()] = joined.to_numpy()
    return reasons


def _schema_reasons(typed: pd.DataFrame, spec: SourceSpec) -> tuple[pd.Series, pd.Series]:
    """Column-level and row-level (cross-column) reasons per positional row."""
    schema = spec.model.to_schema()
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].isna().any():
            raise RuntimeError(
                f"{spec.name}: schema failure that is not about a row:\n{cases.to_string()}"
            ) from errors
        cases = cases.reset_index(drop=True)
        on_column = cases["schema_context"] == "Column"
        column_texts = []
        for (column, number), group in cases[on_column].groupby(
            ["column", "check_number"], dropna=False, sort=False
        ):
            check = None if pd.isna(number) else schema.columns[column].checks[int(number)]
            column_texts.append(_column_reasons(check, str(column), group["failure_case"]))
        row_texts = []
        for number, group in cases[~on_column].groupby("check_number", dropna=False, sort=False):
            check = schema.checks[int(number)]
            row_texts.append(pd.Series(check.error or str(check), index=group.index, dtype="str"))

        def reasons_of(texts: list[pd.Series]) -> pd.Series:
            if not texts:
                return pd.Series("", index=typed.index, dtype="str")
            ordered = pd.concat(texts).sort_index()  # the order pandera reported them in
            return _by_row(typed.index, cases.loc[ordered.index, "index"].astype("int64"), ordered)

        return reasons_of(column_texts), reasons_of(row_texts)
    empty = pd.Series("", index=typed.index, dtype="str")
    return empty, empty.copy()


def _join(*parts: pd.Series) -> pd.Series:
    """Join per-row reason texts with '; ', skipping empty ones."""
    joined = parts[0].copy()
    for part in parts[1:]:
        has = part != ""
        head = joined[has]
        joined[has] = head.where(head == "", head + "; ") + part[has]
    return joined


def check_batch(raw: pa_arrow.Table, spec: SourceSpec, first_row: int) -> BatchVerdict:
    """Parse and check one batch whose first row is `first_row` (1-based) of its file."""
    n = raw.num_rows
    typed = pd.DataFrame(index=pd.RangeIndex(n))
    parse_reasons = pd.Series("", index=typed.index, dtype="str")
    for column in spec.columns:
        values, reasons = parse_column(raw.column(column), spec.kind(column), column)
        typed[column] = values.set_axis(typed.index)
        parse_reasons = _join(parse_reasons, reasons.set_axis(typed.index))

    column_reasons, row_reasons = _schema_reasons(typed, spec)
    has_parse = parse_reasons != ""
    # A value that did not parse also shows as missing; say only what the user can fix.
    column_reasons = column_reasons.where(~has_parse, "")
    reasons = _join(parse_reasons, column_reasons, row_reasons)

    rows = pd.Series(range(first_row, first_row + n), index=typed.index, dtype="int64")
    bad = reasons != ""
    accepted = typed.loc[~bad].assign(**{ROW: rows[~bad]}).reset_index(drop=True)
    quarantined = _as_delivered(raw.filter(pa_arrow.array(bad.to_numpy())), spec)
    quarantined[ROW] = rows[bad].to_numpy()
    quarantined[REASON] = reasons[bad].to_numpy()
    return BatchVerdict(accepted=accepted, quarantined=quarantined)


def _as_delivered(raw: pa_arrow.Table, spec: SourceSpec) -> pd.DataFrame:
    """The contract columns as text, exactly as delivered, for the quarantine file."""
    return pd.DataFrame(
        {
            column: pd.Series(pc.cast(raw.column(column), pa_arrow.string()).to_pandas(), dtype="str")
            for column in spec.columns
        }
    )
