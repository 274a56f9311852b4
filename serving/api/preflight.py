"""What the service checks before it opens its port, so a broken set-up is one sentence.

Observed before: an unreachable MLflow server kept `make serve` silent for four minutes before a
140-line traceback; a moved store was silently replaced by an empty one; a truncated round made
the worker crash-loop while the port stayed open. Each cause is now named with its fix, within
seconds, and the service exits 1.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anbu.settings import Settings
from serving.scoring.rounds import (
    RoundNotScored,
    legacy_files,
    previous_round,
    shown_version,
)
from serving.scoring.served_rounds import served_day


class StartRefused(RuntimeError):
    """The service cannot start; the message says why and what to do."""


def preflight(settings: Settings, champion_version: str | None = None) -> pd.Timestamp:
    """Check data, rounds and (without a champion already loaded) the model store; return the
    round to serve."""
    try:
        folder = settings.folder
    except ValueError as unset:  # ANBU_DATA is not set: Settings says so in one sentence
        raise StartRefused(str(unset)) from None
    data = folder.root
    if not data.is_dir():
        raise StartRefused(
            f"ANBU_DATA={data} is not a folder: point it at the data directory (e.g. data/demo)"
        )
    legacy = legacy_files(data)
    if legacy:
        raise StartRefused(
            f"{legacy[0]} is in the layout before rounds were kept per model version: run "
            f"`anbu migrate --data {data}` once"
        )
    checking_records = champion_version is None  # before the port opens, not on each worker's load
    if champion_version is None:
        from serving.api.bento import bento_model_tag
        from serving.scoring.champion import NoChampion
        from serving.scoring.champion import champion_version as registered_version

        if not bento_model_tag():
            try:
                champion_version = registered_version()
            except NoChampion as error:
                raise StartRefused(str(error)) from None
    as_of = served_day(data, settings.as_of)
    if as_of is None:
        raise StartRefused(
            f"no scored round under {folder.scores()}: run `anbu score --data {data} --as-of D` first"
        )
    try:
        served = shown_version(data, as_of, prefer=champion_version)
    except RoundNotScored:
        raise StartRefused(
            f"the round {as_of.date()} is not scored: run `anbu score --data {data} --as-of {as_of.date()}` first"
        ) from None
    before = previous_round(data, as_of)
    for scored in [served] + ([shown_version(data, before)] if before is not None else []):
        try:
            pq.ParquetFile(scored.path) if scored.path.is_file() else pq.ParquetDataset(scored.path)
        except (OSError, pa.ArrowException) as error:
            raise StartRefused(
                f"the scored round {scored.path} cannot be read ({type(error).__name__}); move it away "
                f"and score the round again with `anbu score --data {data} --as-of {scored.as_of.date()}`"
            ) from None
    if checking_records:
        _check_records_layout(settings, data)
    return as_of.normalize()


def _check_records_layout(settings: Settings, data) -> None:
    """The records' layout, read without laying anything out: a worker would fail on an older one
    at every start (and a supervisor restart it), so here it is one sentence. A database that is
    not there yet is laid out by the service when it first opens it."""
    from serving.records.store import RecordsOutdated, records_layout

    try:
        records_layout(settings.records_location)
    except RecordsOutdated as error:
        raise StartRefused(str(error).replace("--data DIR", f"--data {data}")) from None
    except Exception as error:  # unreachable server, bad URL: named, not a traceback
        first = str(error).splitlines()[0] if str(error) else ""
        raise StartRefused(
            f"the records at {settings.records_location} cannot be opened ({type(error).__name__}: {first[:200]})"
        ) from None
