"""`anbu features`, `anbu training-set`, `anbu catalogue`: feature tables for rounds."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import typer

from anbu.console import console, date_option, fail
from features.catalogue import catalogue_markdown
from features.contract.delivery import ContractError
from features.round_table import RoundManifest, build_training_set, write_round, write_table


def _build(status: str, build: Callable[[], tuple[pd.DataFrame, RoundManifest]], out: Path) -> RoundManifest:
    """Run a build with a status line, turn contract problems into a message, write the result."""
    try:
        with console.status(status):
            table, manifest = build()
    except ContractError as error:
        fail(str(error))
    write_table(table, manifest, out)
    return manifest


def features(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date YYYY-MM-DD; nothing after it is used."),
    out: Path = typer.Option(
        ..., "--out", help="Feature table to write (.parquet); a manifest goes beside it."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (one machine) or spark (a cluster)."),
    spark_master: str = typer.Option(
        "local[2]", "--spark-master", help="With --engine spark; empty: the master spark-submit sets."
    ),
) -> None:
    """Build the feature table of one round: every household in the registry on that day."""
    round_date = date_option(as_of)
    if engine not in ("duckdb", "spark"):
        fail(f"--engine {engine!r}: choose duckdb or spark")
    try:
        with console.status(f"Building features as of {round_date.date()} on {engine} …"):
            if engine == "spark":
                from features.spark_engine import spark_session, write_spark_round

                manifest = write_spark_round(spark_session(spark_master or None), data, round_date, out)
            else:
                manifest = write_round(data, round_date, out)
    except ContractError as error:
        fail(str(error))
    console.print(
        f"{manifest.rows:,} households × {len(manifest.feature_columns)} features as of "
        f"{round_date.date()} → {out} ({manifest.build_seconds:.1f} s)"
    )


def training_set(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    rounds: list[str] = typer.Option(..., "--round", help="A round date YYYY-MM-DD; repeat for several."),
    out: Path = typer.Option(
        ..., "--out", help="Training table to write (.parquet); a manifest goes beside it."
    ),
) -> None:
    """Stack the feature tables of several rounds and attach the contract's 90-day visit label."""
    round_dates = [date_option(text, "--round") for text in rounds]
    manifest = _build(
        f"Building {len(round_dates)} rounds …", lambda: build_training_set(data, round_dates), out
    )
    console.print(
        f"{manifest.rows:,} rows, {manifest.labelled_rows:,} labelled, {manifest.positive_rows:,} "
        f"positive ({manifest.label_framing}) → {out}"
    )


def catalogue_doc(
    out: Path | None = typer.Option(None, "--out", help="Write the Markdown here instead of printing it."),
) -> None:
    """Print the feature catalogue as Markdown (docs/features.md is generated this way)."""
    text = catalogue_markdown()
    if out is None:
        # Written as it is, not through rich: a console wraps long lines, which breaks the tables.
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
