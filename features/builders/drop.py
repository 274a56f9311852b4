"""A DuckDB connection with one view per validated contract file, for the builders to query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from features.contract_files import arrow_schema
from features.reference import district_names, indicator_categories
from features.schemas import SOURCES
from features.sources import ContractError


def connect(
    validated_dir: Path, memory_limit: str = "6GB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open DuckDB over a validated drop; a missing optional file is an empty view of its columns."""
    validated_dir = Path(validated_dir)
    config: dict[str, str | int] = {
        "memory_limit": memory_limit,
        "temp_directory": str(validated_dir / ".duckdb-spill"),
    }
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar = false")
    for spec in SOURCES:
        path = validated_dir / f"{spec.name}.parquet"
        if path.is_file():
            con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet('{path}')")
        elif spec.required:
            raise ContractError(f"{path}: missing from the validated drop; run `anbu validate` first")
        else:
            empty = arrow_schema(spec).empty_table()
            con.register(f"_{spec.name}_empty", empty)
            con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM _{spec.name}_empty")
    categories = pd.DataFrame(
        {"code": list(indicator_categories()), "category": list(indicator_categories().values())}
    )
    con.register("indicator_categories", categories)
    con.register(
        "districts", pd.DataFrame({"gu": list(district_names()), "gu_code": range(len(district_names()))})
    )
    return con
