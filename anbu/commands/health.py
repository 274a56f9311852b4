"""`anbu health`: a round held against what the champion learnt from, before its lists go out."""

from __future__ import annotations

from pathlib import Path

import typer

from anbu.console import command_settings, console, date_option, fail

SHOWN = 10
"""Findings printed; the rest are in health.json and the report."""


def health(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date, YYYY-MM-DD."),
) -> None:
    """Check a round's deliveries, features and served risks against the champion's training rounds.

    Writes DIR/_health/<as-of>/health.json and report.html and logs both to MLflow under the
    champion's run. Exit 0 when nothing stops the round (warnings are printed), 1 when an error
    was found (`anbu score` refuses the round until someone accepts it), 2 when it cannot run."""
    from anbu.commands.serving import records_if_any
    from serving.health.gate import HealthCannotRun, run_health

    day = date_option(as_of)
    try:
        health, folder = run_health(data, day, records=records_if_any(command_settings(data)))
    except HealthCannotRun as error:
        fail(str(error))
    print_findings(health.findings)
    for realised in health.realised:
        console.print(
            f"Lists of {realised.round}: visits to {realised.visited:,} listed households found {realised.found:,}, "
            f"expected {realised.expected.expected:,.1f} (90 % range {realised.expected.low:,}–{realised.expected.high:,})"
            + ("" if realised.window_closed else ", window still open")
        )
    console.print(
        f"Round {day.date()} against isolation-risk v{health.model_version}: {len(health.errors)} errors, "
        f"{len(health.warnings)} warnings → {folder}"
    )
    if health.errors:
        raise typer.Exit(1)


def print_finding(grade: str, sentence: str, before: str = "", label: str | None = None) -> None:
    """One finding on one line, its grade coloured (the sentence is text, never markup)."""
    from rich.markup import escape

    colour = {"error": "red", "warning": "yellow"}[grade]
    console.print(f"{escape(before)}[{colour}]{escape(label or grade)}[/] {escape(sentence)}", soft_wrap=True)


def print_findings(findings) -> None:
    for finding in findings[:SHOWN]:
        print_finding(str(finding.grade), finding.sentence)
    if len(findings) > SHOWN:
        console.print(f"… and {len(findings) - SHOWN} more in the report")
