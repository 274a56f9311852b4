"""Where contract files live in a data directory and the physical types they carry.

The contract promises Parquet (or CSV with the same name and columns). Writing through
`SourceWriter` gives every producer — the synthetic generator, tests, the validator's accepted
output — the same Arrow types, each column's kind's (features/column_kinds.py): calendar dates as
`date32`, naive KST timestamps, nullable ints.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.schemas import SourceSpec


def arrow_schema(spec: SourceSpec) -> pa.Schema:
    """The Arrow schema a contract file of this source is written with (its columns' kinds')."""
    return pa.schema([pa.field(c, spec.kind(c).arrow_type) for c in spec.columns])


def find_source_file(data_dir: Path, spec: SourceSpec) -> Path | None:
    """The delivered file for a source: Parquet preferred, CSV accepted in its place."""
    for suffix in (".parquet", ".csv"):
        candidate = data_dir / f"{spec.name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def to_arrow(frame: pd.DataFrame, spec: SourceSpec) -> pa.Table:
    """Convert a frame holding the contract's columns to the contract's Arrow types."""
    return pa.Table.from_pandas(
        frame.loc[:, list(spec.columns)], schema=arrow_schema(spec), preserve_index=False
    )


class SourceWriter:
    """Streams chunks of one source into a Parquet file, so large cities never sit in memory."""

    def __init__(self, path: Path, spec: SourceSpec) -> None:
        self.path = path
        self.spec = spec
        self.rows_written = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = to_arrow(frame, self.spec)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table)
        self.rows_written += table.num_rows

    def close(self) -> None:
        if self._writer is None:  # an empty source is still a file with the right columns
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow_schema(self.spec).empty_table(), self.path, compression="zstd")
        else:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> SourceWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_source(frame: pd.DataFrame, spec: SourceSpec, data_dir: Path) -> Path:
    """Write one whole source as `<data_dir>/<name>.parquet`."""
    path = data_dir / f"{spec.name}.parquet"
    with SourceWriter(path, spec) as writer:
        writer.write(frame)
    return path
