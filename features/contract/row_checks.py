"""Check one batch of a contract file row by row: every row is accepted or gets its reasons.

The declared pandera model does the checking; this module only turns pandera's failure cases into
sentences a data scientist can act on and splits the batch, so that accepted + quarantined is
always exactly the batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from features.contract.parsing import parse_column
from features.contract.schemas import SourceSpec

ROW = "_row"
"""1-based position of the row in its source file (in a CSV, line = row + 1 for the header)."""
REASON = "_reason"
BLANKED = "_blanked"
"""For a row kept with attributes blanked: which (comma-separated); absent for a refused row."""

_MAX_LISTED_VALUES = 8


@dataclass(frozen=True)
class BatchVerdict:
    accepted: pd.DataFrame
    """Typed contract columns plus `_row`."""
    quarantined: pd.DataFrame
    """Contract columns as delivered (text) plus `_row` and `_reason`."""
    blanked: pd.DataFrame
    """Rows kept with attributes blanked: as delivered, plus `_row`, `_reason` and `_blanked`."""


def _allowed(values: list[object]) -> str:
    if len(values) > _MAX_LISTED_VALUES:
        return f"one of the {len(values)} values the contract lists"
    return "one of " + ", ".join(str(v) for v in values)


def _column_reasons(check: pa.Check | None, column: str, found: pd.Series) -> pd.Series:
    """The sentence for each failure of one column check, built for all its failures at once."""
    if check is None:
        return pd.Series(f"{column}: is missing", index=found.index, dtype="str")
    stats, name = check.statistics or {}, check.name
    if name == "str_length":
        return pd.Series(f"{column}: is empty", index=found.index, dtype="str")
    if name == "greater_than_or_equal_to":
        return f"{column}: " + found.astype("str") + f" is below the minimum {stats['min_value']}"
    if name == "less_than_or_equal_to":
        return f"{column}: " + found.astype("str") + f" is above the maximum {stats['max_value']}"
    shown = found.map(repr).astype("str")
    if name == "isin":
        return f"{column}: " + shown + f" is not {_allowed(list(stats['allowed_values']))}"
    if name == "str_contains" and stats.get("pattern") == r"\S":
        return f"{column}: " + shown + " holds no visible character"
    return f"{column}: " + shown + f" fails {name}"


def _by_row(index: pd.Index, rows: pd.Series, texts: pd.Series) -> pd.Series:
    """Each row's reasons joined with '; ' in the order they came, one sentence once; '' for
    rows without any. Built column-wise: the cost follows the file, not the count of bad rows."""
    reasons = pd.Series("", index=index, dtype="str")
    if rows.empty:
        return reasons
    positions = rows.to_numpy(dtype="int64")
    if len(np.unique(positions)) == len(positions):  # the common case: one reason per bad row
        reasons.iloc[positions] = texts.to_numpy(dtype=object)
        return reasons
    found = pd.DataFrame({"row": positions, "text": texts.to_numpy(dtype=object)})
    found = found.drop_duplicates().reset_index(drop=True)
    single = ~found["row"].duplicated(keep=False)
    reasons.iloc[found.loc[single, "row"].to_numpy()] = found.loc[single, "text"].to_numpy()
    several = found[~single]
    if not several.empty:
        joined = several.groupby("row", sort=False)["text"].agg("; ".join)
        reasons.iloc[joined.index.to_numpy()] = joined.to_numpy()
    return reasons


def _failures(rows: pd.Series | np.ndarray, column: str | None, texts: pd.Series | str) -> pd.DataFrame:
    rows = np.asarray(rows, dtype="int64")
    texts = (
        np.full(len(rows), texts, dtype=object) if isinstance(texts, str) else texts.to_numpy(dtype=object)
    )
    return pd.DataFrame({"row": rows, "column": column, "text": texts})


def _no_failures() -> pd.DataFrame:
    return pd.DataFrame(
        {"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object), "text": pd.Series(dtype=object)}
    )


def _failed_rows(output: object) -> pd.Index | None:
    """The rows a check failed, or None when its verdict is not per row (then pandera reports)."""
    if not isinstance(output, pd.Series):
        return None
    return output.index[~output.to_numpy(dtype=bool)]


def _schema_failures(typed: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """One row per failure: (row, the column it blames or None, sentence): nullability, then
    each column's checks, then the row checks, in the model's order.

    The model's own checks are run directly, each over the whole batch. pandera's lazy
    validation would find the same failures, but it also formats every failure case into its
    error message, which costs more than the checking once half a batch is bad. The columns and
    types are still checked by pandera itself, on the empty frame.
    """
    schema = spec.model.to_schema()
    try:
        schema.validate(typed.iloc[:0])
    except (pa.errors.SchemaError, pa.errors.SchemaErrors):
        return _pandera_failures(typed, spec)
    blames = dict(spec.blank_for_check)
    found = []
    for name, column in schema.columns.items():
        values = typed[name]
        if not column.nullable:
            missing = np.flatnonzero(values.isna().to_numpy())
            if len(missing):
                found.append(_failures(missing, name, f"{name}: is missing"))
        for check in column.checks:
            failed = _failed_rows(check(values).check_output)
            if failed is None:
                return _pandera_failures(typed, spec)
            if len(failed):
                texts = _column_reasons(check, name, values.loc[failed].reset_index(drop=True))
                found.append(_failures(failed.to_numpy(), name, texts))
    for check in schema.checks:
        failed = _failed_rows(check(typed).check_output)
        if failed is None:
            return _pandera_failures(typed, spec)
        if len(failed):
            message = check.error or str(check)
            found.append(_failures(failed.to_numpy(), blames.get(message), message))
    return pd.concat(found, ignore_index=True) if found else _no_failures()


def _pandera_failures(typed: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """One row per failure: (row, the column it blames or None, sentence), in pandera's order.
    A row-level check blames the attribute `spec.blank_for_check` names, if any."""
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
        blames = dict(spec.blank_for_check)
        found = []
        on_column = cases["schema_context"] == "Column"
        for (column, number), group in cases[on_column].groupby(
            ["column", "check_number"], dropna=False, sort=False
        ):
            check = None if pd.isna(number) else schema.columns[column].checks[int(number)]
            texts = _column_reasons(check, str(column), group["failure_case"])
            found.append(_failures(group["index"], str(column), texts).set_axis(group.index))
        for number, group in cases[~on_column].groupby("check_number", dropna=False, sort=False):
            check = schema.checks[int(number)]
            message = check.error or str(check)
            found.append(_failures(group["index"], blames.get(message), message).set_axis(group.index))
        if found:
            # Column faults first, then the row's inconsistencies, each in the order pandera found them.
            ordered = pd.concat(found)
            level = (~on_column).loc[ordered.index].to_numpy()
            ordered = ordered.assign(_level=level, _order=ordered.index).sort_values(["_level", "_order"])
            return ordered.drop(columns=["_level", "_order"]).reset_index(drop=True)
    return _no_failures()


def _row_level_sentences(spec: SourceSpec) -> frozenset[str]:
    """The sentences of the checks that compare a row's columns (pandera's dataframe checks)."""
    return frozenset(check.error or str(check) for check in spec.model.to_schema().checks)


def _compares_an_unparsed_value(
    failures: pd.DataFrame, parse_failures: pd.DataFrame, row_level: frozenset[str]
) -> pd.Series:
    """Row-level failures whose sentence names a column that did not parse on that row."""
    unparsed = parse_failures.groupby("row")["column"].agg(set).to_dict()
    return pd.Series(
        [
            text in row_level
            and any(re.search(rf"\b{re.escape(column)}\b", text) for column in unparsed.get(row, ()))
            for row, text in zip(failures["row"], failures["text"], strict=True)
        ],
        index=failures.index,
        dtype=bool,
    )


def check_batch(raw: pa_arrow.Table, spec: SourceSpec, first_row: int) -> BatchVerdict:
    """Parse and check one batch whose first row is `first_row` (1-based) of its file.

    A row whose only faults are in attributes the contract lets go missing (`spec.blankable`) is
    kept with those attributes blanked; any other fault refuses the row whole."""
    n = raw.num_rows
    typed = pd.DataFrame(index=pd.RangeIndex(n))
    parsed = []
    for column in spec.columns:
        values, reasons = parse_column(raw.column(column), spec.kind(column), column)
        typed[column] = values.set_axis(typed.index)
        refused = np.flatnonzero((reasons != "").to_numpy())
        if len(refused):
            parsed.append(_failures(refused, column, reasons.iloc[refused].reset_index(drop=True)))
    parse_failures = pd.concat(parsed, ignore_index=True) if parsed else _no_failures()
    schema_failures = _schema_failures(typed, spec)
    # A value that did not parse also shows as missing; say only what the user can fix. The row's
    # other columns are still judged: an unparsed attribute that is blanked must not let a bad
    # district through with it.
    # A row-level check (comparing columns) reads an unparsed value as missing, and a comparison with
    # a missing value fails: that sentence would blame the row for something else than what is wrong.
    # Each row-level sentence names the columns it compares (features/contract/schemas.py), so such a
    # failure is dropped only where it names a column of the row that did not parse; a check of other
    # columns still refuses the row.
    parsed_away = pd.MultiIndex.from_frame(parse_failures[["row", "column"]])
    schema_failures = schema_failures[
        ~pd.MultiIndex.from_frame(schema_failures[["row", "column"]]).isin(parsed_away)
        & ~_compares_an_unparsed_value(schema_failures, parse_failures, _row_level_sentences(spec))
    ]
    failures = pd.concat([parse_failures, schema_failures], ignore_index=True)

    blankable = failures["column"].isin(spec.blankable)
    refused_rows = np.unique(failures.loc[~blankable, "row"].to_numpy(dtype="int64"))
    blanks = failures[blankable & ~failures["row"].isin(refused_rows)]
    for column, group in blanks.groupby("column", sort=False):
        # mask() builds a new column: the parsed one may share read-only memory with Arrow.
        typed[column] = typed[column].mask(typed.index.isin(group["row"].to_numpy()))
    reasons = _by_row(typed.index, failures["row"], failures["text"])
    blanked_columns = _by_row(typed.index, blanks["row"], blanks["column"])

    rows = pd.Series(range(first_row, first_row + n), index=typed.index, dtype="int64")
    bad = pd.Series(False, index=typed.index)
    bad.iloc[refused_rows] = True
    blanked = (blanked_columns != "") & ~bad
    accepted = typed.loc[~bad].assign(**{ROW: rows[~bad]}).reset_index(drop=True)
    quarantined = _as_delivered(raw.filter(pa_arrow.array(bad.to_numpy())), spec)
    quarantined[ROW] = rows[bad].to_numpy()
    quarantined[REASON] = reasons[bad].to_numpy()
    kept = _as_delivered(raw.filter(pa_arrow.array(blanked.to_numpy())), spec)
    kept[ROW] = rows[blanked].to_numpy()
    kept[REASON] = reasons[blanked].to_numpy()
    kept[BLANKED] = blanked_columns[blanked].str.replace("; ", ",").to_numpy()
    return BatchVerdict(accepted=accepted, quarantined=quarantined, blanked=kept)


def _as_delivered(raw: pa_arrow.Table, spec: SourceSpec) -> pd.DataFrame:
    """The contract columns as text, exactly as delivered, for the quarantine file."""
    return pd.DataFrame(
        {
            column: pd.Series(pc.cast(raw.column(column), pa_arrow.string()).to_pandas(), dtype="str")
            for column in spec.columns
        }
    )
