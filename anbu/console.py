"""One console and one progress-bar style for every command."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

# Logs and pipes are not terminals: give them room so tables are not cut to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(width=_WIDTH)
errors = Console(stderr=True, width=_WIDTH)


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def date_option(text: str, option: str = "--as-of"):
    """A date option (`--as-of`, `--round`) as a pandas Timestamp at midnight. Only YYYY-MM-DD:
    pandas would also read "7/31/2026" or "31 July", and a round date read the wrong way round
    builds another round without a word."""
    from datetime import datetime

    import pandas as pd

    try:
        return pd.Timestamp(datetime.strptime(text, "%Y-%m-%d"))
    except ValueError:
        fail(f"{option} {text!r} is not a date in the form YYYY-MM-DD")


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop a command with a message the user can act on, and no stack trace."""
    import typer
    from rich.markup import escape

    # One line however long (hints stay copy-pasteable); the message is text, never rich markup.
    errors.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def command_settings(data):
    """A command's settings: its --data over the environment, built once and passed down; a
    refused setting stops the command in one sentence."""
    from pydantic import ValidationError

    from anbu.settings import Settings, refusal

    try:
        return Settings(data=data)
    except ValidationError as error:
        fail(refusal(error))
