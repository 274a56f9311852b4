"""The `anbu` command: one sub-command per pipeline stage, each imported only when it runs.

Importing every stage at start made `anbu --help` take 4-7 s (MLflow alone 3 s, pandera and
pyspark 1 s, pandas 2 s) and made every command load engines it never used. The listing below is
what `--help` shows without importing a stage; tests/anbu/test_cli.py pins each line to the
command's own docstring, so the two cannot drift.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click
import typer
from typer.core import TyperGroup


class Stage(NamedTuple):
    module: str
    attribute: str
    summary: str
    """The start of the command's docstring (or its group's help), shown by `anbu --help`."""


COMMANDS: dict[str, Stage] = {
    "generate": Stage(
        "anbu.commands.synthetic",
        "generate",
        "Generate a synthetic Seoul calibrated to the published district tables.",
    ),
    "validate": Stage(
        "anbu.commands.validate",
        "validate",
        "Validate every contract file; write accepted rows, quarantine files and a summary.",
    ),
    "features": Stage(
        "anbu.commands.features",
        "features",
        "Build the feature table of one round: every household in the registry on that day.",
    ),
    "training-set": Stage(
        "anbu.commands.features",
        "training_set",
        "Stack the feature tables of several rounds and attach the contract's 90-day visit label.",
    ),
    "catalogue": Stage(
        "anbu.commands.features",
        "catalogue_doc",
        "Print the feature catalogue as Markdown (docs/features.md is generated this way).",
    ),
    "train": Stage(
        "anbu.commands.train",
        "train",
        "Train, calibrate and evaluate one experiment; log it to MLflow and register the model.",
    ),
    "promote": Stage(
        "anbu.commands.train",
        "promote",
        "Move the `champion` alias to a version only if the survey shows it passes the gates; record the decision.",
    ),
    "health": Stage(
        "anbu.commands.health",
        "health",
        "Check a round's deliveries, features and served risks against the champion's training rounds.",
    ),
    "score": Stage(
        "anbu.commands.serving",
        "score",
        "Score every household of a round with the champion: risk, rank, percentile, band, reasons.",
    ),
    "rank": Stage(
        "anbu.commands.serving",
        "rank",
        "The lists a team can visit (discovery, and re-check of known households), with reasons and what changed since the previous round.",
    ),
    "serve": Stage(
        "anbu.commands.serving",
        "serve",
        "Start the BentoML service (scoring API, lists, outcomes, planner page) on the champion.",
    ),
    "keys": Stage(
        "anbu.commands.serving", "keys_app", "API keys: who may call the service, with which role and scope."
    ),
    "records": Stage(
        "anbu.commands.serving", "records_app", "The append-only records: outcomes, overrides, audit."
    ),
    "outcomes": Stage(
        "anbu.commands.serving",
        "outcomes",
        "Export recorded visit outcomes as contract `outreach_visits` rows for the next delivery.",
    ),
    "simulate": Stage(
        "anbu.commands.simulate",
        "simulate",
        "Run a synthetic city as a loop: each round a policy chooses the visits, anbu retrains and is promoted by its gates; report what it found.",
    ),
    "migrate": Stage(
        "anbu.commands.migrate",
        "migrate",
        "Bring a data folder's scored rounds and records up to the layout this anbu reads, once (no value changes).",
    ),
    "bento": Stage(
        "anbu.commands.serving",
        "bento",
        "Build a Bento (service code + the champion's model) for deployment; serve it with `ANBU_DATA=DIR bentoml serve anbu:latest`.",
    ),
}


def load_command(name: str) -> click.Command:
    """The stage's click command, built by Typer from the function (or sub-app) it names."""
    stage = COMMANDS[name]
    target = getattr(importlib.import_module(stage.module), stage.attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class Stages(TyperGroup):
    """A group that lists its commands from `COMMANDS` and imports one only to run it (or to show
    its own `--help`)."""

    _listing = False
    """True while the group's own help is written: commands are then listed, not imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            return click.Command(
                cmd_name, short_help=COMMANDS[cmd_name].summary, help=COMMANDS[cmd_name].summary
            )
        return load_command(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="anbu",
    cls=Stages,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def anbu() -> None:
    """안부 — find socially isolated households before a crisis."""


if __name__ == "__main__":
    app()
