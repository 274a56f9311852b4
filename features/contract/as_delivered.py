"""What a delivery made on a given day holds: the rows the city's systems knew by the end of it.

A city that runs anbu round after round delivers its files again before every round, each time
holding more. Replaying a city's history (`anbu simulate`, or a real city's archive) needs the
delivery of a past day: every row whose `known_on` column (schemas.SourceSpec) is on or before
that day, and the end dates a row could not yet carry (`open_until`: a registry row's valid_to, an
enrolment's ended_on) left open, as the city would have sent them then.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract.schemas import SourceSpec


def known_by(table: pa.Table, spec: SourceSpec, day: dt.date) -> pa.Table:
    """The rows of `table` (one contract source) a delivery at the end of `day` holds."""
    if not spec.known_on:
        raise ValueError(f"{spec.name}: the contract does not say when its rows become known")
    table = table.filter(_on_or_before(table[spec.known_on], day))
    for name in spec.open_until:
        ends = table[name]
        later = pc.fill_null(pc.invert(_on_or_before(ends, day)), False)
        table = table.set_column(
            table.schema.get_field_index(name), name, pc.if_else(later, pa.scalar(None, ends.type), ends)
        )
    return table


def read_known_by(path: Path, spec: SourceSpec, day: dt.date) -> pa.Table:
    """A delivered Parquet file as a delivery on `day` would have held it (the filter is pushed
    into the read, so a year of hourly readings is not loaded to keep a month)."""
    column = pq.read_schema(path).field(spec.known_on)
    limit = _limit(column.type, day)
    operator = "<" if pa.types.is_timestamp(column.type) else "<="
    return known_by(pq.read_table(path, filters=[(spec.known_on, operator, limit)]), spec, day)


def _limit(kind: pa.DataType, day: dt.date) -> object:
    """A date column keeps `day` itself; a timestamp column everything before the next midnight."""
    if pa.types.is_timestamp(kind):
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return day


def _on_or_before(column: pa.ChunkedArray, day: dt.date) -> pa.ChunkedArray:
    limit = pa.scalar(_limit(column.type, day), column.type)
    if pa.types.is_timestamp(column.type):
        return pc.less(column, limit)
    return pc.less_equal(column, limit)
