"""`anbu validate`: check a data delivery against the contract, quarantining bad rows."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from anbu.console import console, fail, progress_bar
from features.contract.delivery import ContractError, DeliveryReport, validate_delivery


def validate(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    out: Path | None = typer.Option(
        None, "--out", help="Where accepted and quarantined rows go (default: DATA/_validated)."
    ),
) -> None:
    """Validate every contract file; write accepted rows, quarantine files and a summary."""
    with progress_bar() as progress:
        tasks: dict[str, int] = {}

        def advance(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        try:
            report = validate_delivery(data, out, progress=advance)
        except ContractError as error:
            fail(str(error))
    render_report(report)


def render_report(report: DeliveryReport) -> None:
    table = Table(title=f"Validation of {report.data_dir}", show_lines=False)
    counts = ("read", "accepted whole", "kept, blanked", "quarantined", "duplicates")
    for column in ("file", *counts, "main reasons"):
        table.add_column(column, justify="right" if column in counts else "left")
    for source in report.sources:
        if not source.delivered:
            table.add_row(source.name, "-", "-", "-", "-", "-", source.note)
            continue
        reasons = "; ".join(f"{count:,}× {reason}" for reason, count in list(source.reasons.items())[:3])
        table.add_row(
            source.file,
            f"{source.rows_read:,}",
            f"{source.rows_accepted_whole:,}",
            f"{source.rows_blanked:,}",
            f"{source.rows_quarantined:,}",
            f"{source.duplicates:,}",
            reasons,
        )
    console.print(table)
    for source in report.sources:
        if source.unknown_indicators:
            codes = ", ".join(f"{code} ({count:,} rows)" for code, count in source.unknown_indicators.items())
            console.print(
                f"[yellow]{source.file}: indicator codes not in the catalogue, kept under category "
                f"'other': {codes}"
            )
        if source.ignored_columns:
            console.print(
                f"[yellow]{source.file}: columns not in the contract, ignored: "
                f"{', '.join(source.ignored_columns)}"
            )
    console.print(
        f"Accepted rows: {report.out_dir}/<file>.parquet · quarantined rows, and rows kept with "
        f"attributes blanked (column _blanked), with reasons: {report.out_dir}/quarantine/<file>.parquet"
    )
