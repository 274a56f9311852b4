"""Declared schemas of what the pipeline writes (round tables, training sets, scored rounds).

Inputs have strict pandera models (features/contract/); outputs are checked too, where they are
written and where they are read, so a file another engine, an older version or a hand edit wrote
is refused with the file and the column named, not misread. Types are checked by kind (the
contract's kinds, features/column_kinds.py), not by exact Arrow type: DuckDB writes `string`
where pandas writes `large_string`, and Spark writes its timestamps with a time zone; all of those
mean the same column. A nested column (a scored
round's reasons) is declared by its Arrow type and checked by shape: a list of structs with
these fields by name, each of its kind (Spark names a list's items `element`, pyarrow `item`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.column_kinds import KINDS, KindName


def _of_shape(declared: pa.DataType, found: pa.DataType) -> bool:
    """Whether `found` is `declared` up to the differences engines make (see the module); Arrow's
    null type (no value at all, e.g. a list column whose lists are all empty) is of every shape."""
    if pa.types.is_null(found):
        return True
    if pa.types.is_list(declared):
        return (pa.types.is_list(found) or pa.types.is_large_list(found)) and _of_shape(
            declared.value_type, found.value_type
        )
    if pa.types.is_struct(declared):
        return (
            pa.types.is_struct(found)
            and [f.name for f in found] == [f.name for f in declared]
            and all(_of_shape(d.type, f.type) for d, f in zip(declared, found, strict=True))
        )
    for kind in KINDS.values():
        if kind.is_arrow(declared):
            return kind.is_arrow(found)
    return found.equals(declared)


def _is(kind: KindName | pa.DataType, found: pa.DataType) -> bool:
    if isinstance(kind, pa.DataType):
        return _of_shape(kind, found)
    # A column with no value at all (Arrow's null type) is of every kind.
    return pa.types.is_null(found) or KINDS[kind].is_arrow(found)


class OutputSchemaError(ValueError):
    """A written or read file is not what its schema declares."""


@dataclass(frozen=True)
class OutputSchema:
    name: str
    """What the file is, for messages: "round table", "scored round"."""
    columns: tuple[tuple[str, KindName | pa.DataType], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def check(self, schema: pa.Schema, where: str | Path, need: Iterable[str] | None = None) -> None:
        """Writing (`need` None): exactly the declared columns, in order, each of its kind.
        Reading: the columns the reader needs are there, and every declared column that is there
        is of its kind (a file written before a column existed is still read)."""
        found = {field.name: field.type for field in schema}
        if need is None:
            if schema.names != self.names:
                missing = [n for n in self.names if n not in found]
                extra = [n for n in found if n not in self.names]
                problems = [f"missing {missing}"] if missing else []
                problems += [f"undeclared {extra}"] if extra else []
                repeated = sorted({n for n in schema.names if schema.names.count(n) > 1})
                problems += [f"repeated {repeated}"] if repeated else []
                raise OutputSchemaError(
                    f"{where}: not a {self.name} as declared: {'; '.join(problems) or 'columns out of order'}"
                )
        else:
            missing = [n for n in need if n not in found]
            if missing:
                raise OutputSchemaError(f"{where}: lacks the columns {missing}; it is not a {self.name}")
        for name, kind in self.columns:
            if name in found and not _is(kind, found[name]):
                raise OutputSchemaError(
                    f"{where}: column {name} is {found[name]}, but a {self.name} declares it {kind}"
                )

    def check_file(self, path: Path, need: Iterable[str] | None = None) -> None:
        """The same check on a Parquet file or a folder of part files (as Spark writes)."""
        path = Path(path)
        schema = pq.ParquetDataset(path).schema if path.is_dir() else pq.read_schema(path)
        self.check(schema, path, need)
