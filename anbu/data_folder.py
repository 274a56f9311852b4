"""The data folder's layout: where each stage reads and writes beside a city's delivery.

    DIR/                       the delivery: contract files as the city's systems send them
    DIR/_validated/            accepted and quarantined rows, validation.json (anbu validate)
    DIR/_truth/                a synthetic city's hidden truth (synthetic/); a real city has none
    DIR/_scores/<as_of>/       v<model version>.parquet per scored round (anbu score)
    DIR/_records/              anbu.sqlite, records.secret, api_keys.toml (outcomes, audit, keys)
    DIR/_lists/                lists written by `anbu rank`

Every folder name is spelt here and nowhere else; the settings (anbu/settings.py) can move
the records database, its key and the API keys elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class DataFolder:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def validated(self) -> Path:
        """Where `anbu validate` writes unless told otherwise: beside the delivery."""
        return self.root / "_validated"

    @property
    def truth(self) -> Path:
        return self.root / "_truth"

    def scores(self, as_of: pd.Timestamp | None = None) -> Path:
        """All scored rounds, or the folder of one round (its files are per model version)."""
        folder = self.root / "_scores"
        return folder if as_of is None else folder / pd.Timestamp(as_of).date().isoformat()

    @property
    def records(self) -> Path:
        return self.root / "_records"

    @property
    def records_database(self) -> Path:
        return self.records / "anbu.sqlite"

    @property
    def keys(self) -> Path:
        return self.records / "api_keys.toml"

    def health(self, as_of: pd.Timestamp) -> Path:
        """Where `anbu health` keeps a round's health.json and report."""
        return self.root / "_health" / str(pd.Timestamp(as_of).date())

    @property
    def lists(self) -> Path:
        return self.root / "_lists"

    def list_file(self, day: pd.Timestamp, gu: str, dong: str | None, kind: str) -> Path:
        """Where `anbu rank` writes a team's list without `--out`."""
        return self.lists / f"{pd.Timestamp(day).date()}-{gu}{'-' + dong if dong else ''}.{kind}"


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """Write to the path this yields; it becomes `path` only once the block finishes, so a reader
    never meets a half-written file (a killed run leaves `<name>.tmp`, never `<name>`)."""
    temporary = path.with_name(path.name + ".tmp")
    yield temporary
    os.replace(temporary, path)
