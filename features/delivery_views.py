"""A DuckDB connection with one view per validated contract file, for the family queries to read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from features.contract.delivery import ContractError
from features.contract.files import arrow_schema
from features.contract.schemas import SOURCES, SourceSpec
from features.reference import district_names, indicator_categories


def connect(
    validated_dir: Path, memory_limit: str = "6GB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open DuckDB over a validated delivery; a missing optional file is an empty view of its columns."""
    validated_dir = Path(validated_dir)
    config: dict[str, str | int] = {
        "memory_limit": memory_limit,
        "temp_directory": str(validated_dir / ".duckdb-spill"),
    }
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar = false")
    for spec, path in delivery_sources(validated_dir):
        if path is not None:
            con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet('{path}')")
        else:
            empty = arrow_schema(spec).empty_table()
            con.register(f"_{spec.name}_empty", empty)
            con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM _{spec.name}_empty")
    for name, table in reference_tables().items():
        con.register(name, table)
    return con


def delivery_sources(validated_dir: Path) -> list[tuple[SourceSpec, Path | None]]:
    """Each contract source with its validated file, None for an absent optional one (the engines
    make it an empty view of its contract columns); a missing required file is refused."""
    found: list[tuple[SourceSpec, Path | None]] = []
    for spec in SOURCES:
        path = Path(validated_dir) / f"{spec.name}.parquet"
        if not path.is_file() and spec.required:
            raise ContractError(f"{path}: missing from the validated delivery; run `anbu validate` first")
        found.append((spec, path if path.is_file() else None))
    return found


def reference_tables() -> dict[str, pd.DataFrame]:
    """The reference tables the feature queries join, the same for every engine."""
    categories = indicator_categories()
    districts = district_names()
    return {
        "indicator_categories": pd.DataFrame(
            {"code": list(categories), "category": list(categories.values())}
        ),
        "districts": pd.DataFrame({"gu": list(districts), "gu_code": range(len(districts))}),
    }
