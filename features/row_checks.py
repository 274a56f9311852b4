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


def _column_reason(check: pa.Check | None, column: str, found: object) -> str:
    if check is None:
        return f"{column}: is missing"
    stats = check.statistics or {}
    match check.name:
        case "str_length":
            return f"{column}: is empty"
        case "isin":
            return f"{column}: {found!r} is not {_allowed(list(stats['allowed_values']))}"
        case "greater_than_or_equal_to":
            return f"{column}: {found} is below the minimum {stats['min_value']}"
        case "less_than_or_equal_to":
            return f"{column}: {found} is above the maximum {stats['max_value']}"
        case _:
            return f"{column}: {found!r} fails {check.name}"


def _schema_reasons(typed: pd.DataFrame, spec: SourceSpec) -> tuple[pd.Series, pd.Series]:
    """Column-level and row-level (cross-column) reasons per positional row."""
    schema = spec.model.to_schema()
    column_reasons = pd.Series("", index=typed.index, dtype="str")
    row_reasons = pd.Series("", index=typed.index, dtype="str")
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].isna().any():
            raise RuntimeError(
                f"{spec.name}: schema failure that is not about a row:\n{cases.to_string()}"
            ) from errors
        for case in cases.itertuples(index=False):
            row = int(case.index)
            if case.schema_context == "Column":
                check = (
                    None
                    if pd.isna(case.check_number)
                    else schema.columns[case.column].checks[int(case.check_number)]
                )
                reason = _column_reason(check, str(case.column), case.failure_case)
                column_reasons.iat[row] = "; ".join(filter(None, (column_reasons.iat[row], reason)))
            else:
                message = schema.checks[int(case.check_number)].error or str(case.check)
                if message not in row_reasons.iat[row]:
                    row_reasons.iat[row] = "; ".join(filter(None, (row_reasons.iat[row], message)))
    return column_reasons, row_reasons


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
