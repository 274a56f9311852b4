"""The `anbu` command: one sub-command per pipeline stage."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="anbu",
    help="안부 — find socially isolated households before a crisis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from anbu.commands.features import catalogue_doc, features, training_set
    from anbu.commands.serving import bento, keys_app, outcomes, rank, records_app, score, serve
    from anbu.commands.synthetic import generate
    from anbu.commands.train import promote, train
    from anbu.commands.validate import validate

    app.command("generate")(generate)
    app.command("validate")(validate)
    app.command("features")(features)
    app.command("training-set")(training_set)
    app.command("catalogue")(catalogue_doc)
    app.command("train")(train)
    app.command("promote")(promote)
    app.command("score")(score)
    app.command("rank")(rank)
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(records_app, name="records")
    app.command("outcomes")(outcomes)
    app.command("bento")(bento)


_register()


if __name__ == "__main__":
    app()
