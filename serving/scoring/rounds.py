"""Scored rounds on disk, one file per (round, model version), never rewritten.

    DIR/_scores/<as_of>/v<model version>.parquet      (+ v<version>.manifest.json beside it)

A list a planner saw must stay what it was: when another model is promoted, the rounds it did not
score are served as the earlier model wrote them, with that model's version. So `anbu score` is the
only writer, it adds a file and never replaces one, and once a later round has been scored an
earlier round is history and takes no new version. The service and `anbu rank` only read.

Which version of a round is shown: the served round's file by the champion when there is one
(else its newest, served as it was); any earlier round's newest file, which is the last one
planners saw while that round was current.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anbu.data_folder import DataFolder
from features.output_schema import OutputSchema, OutputSchemaError
from serving.scoring.reasons import (
    FLAT_REASON_COLUMNS,
    REASONS_TYPE,
    ReasonsUnreadable,
    checked_reasons,
    reasons_from_flat,
)

if TYPE_CHECKING:  # scoring loads the model libraries; reading a stored round must not
    from serving.scoring.champion import Champion
    from serving.scoring.city import Progress

_VERSION_FILE = re.compile(r"^v(\d+)\.parquet$")
_ROUND_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RoundNotScored(LookupError):
    """No file holds this round: `anbu score` has not scored it."""


class RoundUnreadable(RuntimeError):
    """A scored round's file exists but cannot be read (truncated, not Parquet, wrong columns)."""


class RoundIsHistory(ValueError):
    """A later round is scored already, or this (round, version) exists: the file stays as it is."""


@dataclass(frozen=True)
class ScoredRound:
    """One stored scoring of a round."""

    as_of: pd.Timestamp
    model_version: str
    path: Path


def round_folder(data_dir: Path, as_of: pd.Timestamp) -> Path:
    return DataFolder(data_dir).scores(as_of)


def scores_path(data_dir: Path, as_of: pd.Timestamp, version: str) -> Path:
    return round_folder(data_dir, as_of) / f"v{version}.parquet"


def versions_of(data_dir: Path, as_of: pd.Timestamp) -> list[ScoredRound]:
    """Every stored scoring of a round, oldest model version first."""
    folder = round_folder(data_dir, as_of)
    if not folder.is_dir():
        return []
    found = [
        (int(match.group(1)), path) for path in folder.iterdir() if (match := _VERSION_FILE.match(path.name))
    ]
    return [ScoredRound(pd.Timestamp(as_of).normalize(), str(number), path) for number, path in sorted(found)]


def scored_rounds(data_dir: Path) -> list[pd.Timestamp]:
    """Round dates with at least one stored scoring, oldest first."""
    folder = DataFolder(data_dir).scores()
    if not folder.is_dir():
        return []
    days = [pd.Timestamp(p.name) for p in folder.iterdir() if p.is_dir() and _ROUND_FOLDER.match(p.name)]
    return sorted(day for day in days if versions_of(data_dir, day))


def legacy_files(data_dir: Path) -> list[Path]:
    """`_scores/<as_of>.parquet` files of the layout before rounds were kept per model version."""
    folder = DataFolder(data_dir).scores()
    return sorted(folder.glob("????-??-??.parquet")) if folder.is_dir() else []


def shown_version(data_dir: Path, as_of: pd.Timestamp, prefer: str | None = None) -> ScoredRound:
    """The scoring of a round that planners see: `prefer`'s file when it exists, else the newest."""
    versions = versions_of(data_dir, as_of)
    if not versions:
        raise RoundNotScored(f"as_of: the round of {pd.Timestamp(as_of).date()} is not scored")
    for scored in versions:
        if prefer is not None and scored.model_version == prefer:
            return scored
    return versions[-1]


def previous_round(data_dir: Path, as_of: pd.Timestamp) -> pd.Timestamp | None:
    """The latest round scored before `as_of` (what the list's changes compare with), if any."""
    earlier = [day for day in scored_rounds(data_dir) if day < pd.Timestamp(as_of)]
    return earlier[-1] if earlier else None


def read_round(scored: ScoredRound) -> pd.DataFrame:
    """A stored round as it was written, indexed by household id (unique: checked here, and the
    same index then finds a household for every request); a damaged file is named, not a
    traceback. A round in an earlier layout is refused, naming `anbu migrate` (migrate_rounds)."""
    from serving.scoring.households import OPTIONAL_SCORE_COLUMNS, SCORE_COLUMNS, SCORE_SCHEMA, scored_frame

    try:
        table = pq.read_table(scored.path)
    except (OSError, pa.ArrowException) as error:
        raise RoundUnreadable(
            f"{scored.path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0]}); "
            f"score the round again with `anbu score` after moving the damaged file away"
        ) from None
    if "reasons" not in table.column_names and "reason_codes" in table.column_names:
        raise RoundUnreadable(
            f"{scored.path} was written by an earlier anbu, with reasons as flat columns: run "
            f"`anbu migrate --data {_data_dir_of(scored.path)}` once (it rewrites such rounds with their "
            "reasons whole, every value kept)"
        )
    try:
        SCORE_SCHEMA.check(
            table.schema, scored.path, need=[c for c in SCORE_COLUMNS if c not in OPTIONAL_SCORE_COLUMNS]
        )
        table = table.set_column(
            table.column_names.index("reasons"), "reasons", checked_reasons(table["reasons"])
        )
    except OutputSchemaError as error:
        raise RoundUnreadable(str(error)) from None
    except ReasonsUnreadable as error:
        raise _reasons_refused(scored.path, table, error) from None
    # One contiguous Arrow buffer per column: picking a row out of a many-chunk string column
    # costs a pass over the chunks (200 ms per household at city scale, 1.4 ms combined).
    frame = scored_frame(table.combine_chunks())
    for column in OPTIONAL_SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    frame.index = pd.Index(frame["household_id"].array)  # unnamed: `household_id` stays one column
    if not frame.index.is_unique:
        repeated = frame["household_id"][frame.index.duplicated()]
        raise RoundUnreadable(
            f"{scored.path} lists household {repeated.iloc[0]} more than once ({len(repeated)} repeats); "
            "it is not a round `anbu score` wrote"
        )
    return frame


def _reasons_refused(path: Path, table: pa.Table, error: ReasonsUnreadable) -> RoundUnreadable:
    household = table["household_id"][error.row].as_py()
    return RoundUnreadable(
        f"{path}: household {household} has {error} ({error.rows} households like it); "
        "it is not a round `anbu score` wrote"
    )


def _data_dir_of(path: Path) -> Path | str:
    """DIR of DIR/_scores/<as_of>/v<version>.parquet (or of a legacy DIR/_scores/<as_of>.parquet)."""
    folder = DataFolder(".").scores().name
    return next((parent.parent for parent in Path(path).parents if parent.name == folder), "DIR")


def _replace_durably(written: Path, target: Path) -> None:
    """`written` (a file, or Spark's folder of parts) put in `target`'s place, on disk first: a
    round is rewritten once in its life, and a power cut must not leave half of it."""
    for part in [written] if written.is_file() else sorted(written.rglob("*")):
        if part.is_file():
            with open(part, "rb") as handle:
                os.fsync(handle.fileno())
    if written.is_dir() and target.is_dir():
        kept = target.with_name(target.name + ".before-migration")
        target.replace(kept)
        written.replace(target)
        shutil.rmtree(kept)
    else:
        written.replace(target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _with_whole_reasons(table: pa.Table, path: Path) -> pa.Table:
    """An older round's nine flat reason columns replaced by the `reasons` column they say."""
    FLAT_REASONS.check(table.schema, path, need=FLAT_REASON_COLUMNS)
    reasons = reasons_from_flat(table)
    place = table.column_names.index("reason_codes")
    return table.drop_columns(FLAT_REASON_COLUMNS).add_column(
        place, pa.field("reasons", REASONS_TYPE), reasons
    )


FLAT_REASONS = OutputSchema(
    "scored round (reasons as flat columns)", tuple((name, "string") for name in FLAT_REASON_COLUMNS)
)


def migrate_rounds(data_dir: Path) -> list[str]:
    """Bring every stored round of `data_dir` to the layout this code reads, once: a round file of
    the layout before rounds were kept per model version moves to `_scores/<as_of>/v<version>.parquet`,
    and a round with reasons as flat columns is rewritten with them whole (every other column and
    the file's metadata as they were). The one rewrite a stored round ever gets: its values do not
    change. Returns what was done, a line each; RoundUnreadable names a file it cannot bring over."""
    done = []
    for legacy in legacy_files(data_dir):
        versions = pq.read_table(legacy, columns=["model_version"])["model_version"].unique().to_pylist()
        if len(versions) != 1:
            raise RoundUnreadable(
                f"{legacy}: scored by {len(versions)} model versions; score the round again"
            )
        target = scores_path(data_dir, pd.Timestamp(legacy.stem), str(versions[0]))
        if target.exists():
            raise RoundUnreadable(f"{legacy}: {target} exists already; move one of them away")
        target.parent.mkdir(parents=True, exist_ok=True)
        legacy.replace(target)
        manifest = legacy.with_suffix(".manifest.json")  # beside a Spark folder of parts
        if manifest.is_file():
            manifest.replace(target.with_suffix(".manifest.json"))
        done.append(f"{legacy} → {target}")
    for day in scored_rounds(data_dir):
        for scored in versions_of(data_dir, day):
            first = next(scored.path.glob("*.parquet")) if scored.path.is_dir() else scored.path
            schema = pq.read_schema(first)
            if "reasons" in schema.names or "reason_codes" not in schema.names:
                continue
            older = pq.read_table(scored.path)
            try:
                table = _with_whole_reasons(older, scored.path)
                checked_reasons(table["reasons"])  # what a reader would refuse is not written
            except OutputSchemaError as error:
                raise RoundUnreadable(str(error)) from None
            except ReasonsUnreadable as error:  # rows keep their order: the older table names the household
                raise _reasons_refused(scored.path, older, error) from None
            written = scored.path.with_name(scored.path.name + ".migrating")
            table = table.replace_schema_metadata(schema.metadata)
            if scored.path.is_dir():  # Spark's folder of parts (its manifest is the JSON beside it)
                written.mkdir()
                pq.write_table(table, written / "part-00000.parquet")
            else:
                pq.write_table(table, written)
            _replace_durably(written, scored.path)
            done.append(f"{scored.path}: reasons stored whole")
    return done


def check_writable(data_dir: Path, as_of: pd.Timestamp, version: str) -> Path:
    """Where `anbu score` may write this (round, version), or why it may not."""
    as_of = pd.Timestamp(as_of).normalize()
    target = scores_path(data_dir, as_of, version)
    if target.exists():
        raise RoundIsHistory(
            f"the round of {as_of.date()} is already scored by model v{version} ({target}); "
            "a scored round is never rewritten"
        )
    later = [day for day in scored_rounds(data_dir) if day > as_of]
    if later:
        raise RoundIsHistory(
            f"the round of {as_of.date()} is history: the round of {later[-1].date()} is scored already, "
            "so the earlier round stays as planners saw it (use --out for a copy elsewhere)"
        )
    return target


def score_round(
    data_dir: Path,
    as_of: pd.Timestamp,
    champion: Champion,
    out: Path | None = None,
    progress: Progress | None = None,
    block_rows: int | None = None,
    health: dict | None = None,
) -> Path:
    """Build the round's features, score and explain every household, write the result (streamed
    and resumable: serving/scoring/city.py). Without `out`, into the round's store, refusing to
    rewrite history."""
    from serving.scoring.city import BLOCK_ROWS, score_city

    target = out or check_writable(data_dir, as_of, champion.version)
    return score_city(
        data_dir,
        as_of,
        champion,
        target,
        block_rows=block_rows or BLOCK_ROWS,
        progress=progress,
        health=health,
    )
