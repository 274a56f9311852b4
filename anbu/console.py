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


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop a command with a message the user can act on, and no stack trace."""
    import typer

    errors.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)
