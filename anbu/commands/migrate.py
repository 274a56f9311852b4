"""`anbu migrate`: a data folder's stored formats brought up to this anbu, once.

Readers read one layout each: a scored round with reasons as flat columns, a round in the layout
before rounds were kept per model version, or a records database of an earlier layout is refused
by them, naming this command, instead of every reader understanding every layout ever written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from anbu.console import console, fail


def migrate(
    data: Path = typer.Option(
        ..., "--data", help="Data directory whose rounds and records to bring up to date."
    ),
) -> None:
    """Bring a data folder's scored rounds and records up to the layout this anbu reads, once (no value changes)."""
    from anbu.settings import Settings
    from serving.records.store import RECORDS_FORMAT, Records, RecordsOutdated
    from serving.scoring.rounds import RoundUnreadable, migrate_rounds

    if not data.is_dir():
        fail(f"--data {data} is not a folder: give the data directory to migrate (e.g. data/demo)")
    try:
        done = migrate_rounds(data)
    except RoundUnreadable as error:
        fail(str(error))
    for line in done:
        console.print(line, markup=False, highlight=False)
    console.print(f"Scored rounds: {len(done)} brought up to date" if done else "Scored rounds: up to date")
    settings = Settings(data=data)
    location = settings.records_location
    if "://" not in location and not Path(location).is_file():
        console.print(f"Records: none at {location} yet (they are laid out when first written)")
        return
    try:
        records = Records(location, settings.records_secret_file, migrate=True)
    except RecordsOutdated as error:
        fail(str(error))
    before = records.found_format
    records.close()
    console.print(
        f"Records at {location}: format {before} → {RECORDS_FORMAT} (no record changed)"
        if before != RECORDS_FORMAT
        else f"Records at {location}: up to date (format {RECORDS_FORMAT})",
        markup=False,
        highlight=False,
    )
