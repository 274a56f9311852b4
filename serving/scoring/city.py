"""A whole city's round, scored and explained overnight: streamed in blocks, memory bounded, both
cores busy, and resumable.

The round's features go from DuckDB straight to a Parquet file (never a pandas table of the city);
blocks of households are read from it, scored and explained (serving/scoring/households.py, exact SHAP by the
path tables) and each block is written as its own part file the moment it is done. A run that is
killed keeps its finished parts: the same command again skips them and continues, because the
parts live in a work folder named after everything that determines them (round, model version,
input files' SHA-256, block size, catalogue version). When every block is done, the city-wide rank
and percentile are computed from the parts' risks alone and the parts are copied, block by block,
into the one output file, so a resumed run writes exactly the file an uninterrupted one would.

Rows are in household-id order (the feature table's); rank 1 is the city's highest risk.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anbu.data_folder import written_whole
from features import catalogue
from features.contract.delivery import ensure_validated
from features.round_table import round_schema, write_round
from serving.scoring.champion import Champion
from serving.scoring.households import (
    ID_COLUMNS,
    SCORE_COLUMNS,
    SCORE_SCHEMA,
    ScoreManifest,
    city_ranks,
    input_digests,
    score_households,
)

BLOCK_ROWS = 250_000
"""Households per block: the unit of resuming, and of explaining together — each tree is explained
once per distinct decision pattern in a block (serving/explain/tree_shap.py), 22 % of Seoul's
households at 250,000 against 28 % at 100,000 for a 500 × 63 model; about 1 GB of working memory."""

FEATURE_MEMORY = "3GB"
"""DuckDB's memory limit while building the round (it spills beyond), so the run stays under 6 GiB."""

Progress = Callable[[int, int], None]
"""Called with (blocks done, blocks in all)."""


@dataclass(frozen=True)
class CityRun:
    """Where one (round, model, inputs, block size) run keeps its work."""

    out: Path
    work: Path

    @property
    def features(self) -> Path:
        return self.work / "features.parquet"

    def part(self, index: int) -> Path:
        return self.work / f"part-{index:05d}.parquet"


def _fingerprint(as_of: pd.Timestamp, champion: Champion, inputs: dict[str, str], block_rows: int) -> str:
    facts = {
        "as_of": as_of.date().isoformat(),
        "model_version": champion.version,
        "model_run_id": champion.run_id,
        "inputs": dict(sorted(inputs.items())),
        "block_rows": block_rows,
        "catalogue": catalogue.CATALOGUE_VERSION,
        # Parts written before a column joined the round (last_finding_on) must not be resumed.
        "columns": [*ID_COLUMNS, *SCORE_COLUMNS],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _plan_run(out: Path, fingerprint: str) -> CityRun:
    work = out.parent / f".{out.stem}.parts-{fingerprint}"
    for stale in out.parent.glob(f".{out.stem}.parts-*"):
        if stale != work:  # another model, other inputs or another block size: not resumable here
            shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    return CityRun(out, work)


def _write_atomically(table: pa.Table, path: Path) -> None:
    """A part exists only once it is whole: a run killed while writing leaves no half part."""
    with written_whole(path) as temporary:
        pq.write_table(table, temporary, compression="zstd")


def round_features(
    data_dir: Path, as_of: pd.Timestamp, champion: Champion, out: Path, block_rows: int | None = None
) -> Path:
    """The round's feature table as the scoring into `out` will read it, built now if it is not yet:
    the health check that runs before a round is scored reads this same file, so a city's round is
    built once (at Seoul's scale about half a minute of DuckDB work not done twice)."""
    run, _ = _built_run(
        Path(data_dir), pd.Timestamp(as_of).normalize(), champion, Path(out), block_rows or BLOCK_ROWS
    )
    return run.features


def _built_run(
    data_dir: Path, as_of: pd.Timestamp, champion: Champion, out: Path, block_rows: int
) -> tuple[CityRun, dict[str, str]]:
    inputs = input_digests(ensure_validated(data_dir))
    run = _plan_run(out, _fingerprint(as_of, champion, inputs, block_rows))
    if not run.features.is_file():
        with written_whole(run.features) as temporary:
            write_round(data_dir, as_of, temporary, memory_limit=FEATURE_MEMORY)
    return run, inputs


def score_city(
    data_dir: Path,
    as_of: pd.Timestamp,
    champion: Champion,
    out: Path,
    block_rows: int = BLOCK_ROWS,
    progress: Progress | None = None,
    health: dict | None = None,
) -> Path:
    """Score and explain every household registered on `as_of`; write `out` (Parquet, with the
    manifest in its metadata and beside it; `health`, what the round's health check said, in it)."""
    data_dir, out, as_of = Path(data_dir), Path(out), pd.Timestamp(as_of).normalize()
    run, inputs = _built_run(data_dir, as_of, champion, out, block_rows)
    source = pq.ParquetFile(run.features)
    households = source.metadata.num_rows
    if households == 0:
        raise ValueError(f"no household is registered on {as_of.date()} in {data_dir}: nothing to score")
    blocks = max(1, -(-households // block_rows))
    columns = [*ID_COLUMNS, *champion.features]
    # A resumed run reads a round table an earlier run wrote: the model's features, of their kinds.
    round_schema().check(source.schema_arrow, run.features, need=columns)
    done = sum(run.part(i).is_file() for i in range(blocks))
    if progress:
        progress(done, blocks)
    if done < blocks:
        for index, batch in enumerate(source.iter_batches(batch_size=block_rows, columns=columns)):
            if run.part(index).is_file():
                continue
            _write_atomically(score_households(champion, pa.Table.from_batches([batch])), run.part(index))
            done += 1
            if progress:
                progress(done, blocks)
    parts = [run.part(i) for i in range(blocks) if run.part(i).is_file()]
    scored_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    if scored_rows != households:
        raise RuntimeError(f"{run.work}: parts hold {scored_rows:,} households, the round {households:,}")

    written = _assemble(run, parts, as_of, champion, inputs, health)
    shutil.rmtree(run.work, ignore_errors=True)
    return written


def _assemble(
    run: CityRun,
    parts: list[Path],
    as_of: pd.Timestamp,
    champion: Champion,
    inputs: dict[str, str],
    health: dict | None = None,
) -> Path:
    """Rank the city from the parts' risks, then copy the parts into the output block by block."""
    key = pa.concat_tables(pq.read_table(p, columns=["household_id", "risk", "band"]) for p in parts)
    risk = key["risk"].to_numpy()
    rank, percentile = city_ranks(key["household_id"].to_numpy(zero_copy_only=False), risk)
    bands = pd.Series(key["band"].to_numpy(zero_copy_only=False)).value_counts().to_dict()
    manifest = ScoreManifest.of(as_of, champion, bands, inputs, health)
    del key
    text = manifest.text()
    schema = None
    run.out.parent.mkdir(parents=True, exist_ok=True)
    offset = 0
    writer: pq.ParquetWriter | None = None
    with written_whole(run.out) as temporary:
        try:
            for part in parts:
                block = pq.read_table(part)
                rows = len(block)
                block = block.append_column("rank", pa.array(rank[offset : offset + rows]))
                block = block.append_column("percentile", pa.array(percentile[offset : offset + rows]))
                block = block.select(SCORE_COLUMNS)
                offset += rows
                if writer is None:
                    SCORE_SCHEMA.check(block.schema, run.out)
                    schema = block.schema.with_metadata({b"anbu": text.encode()})
                    writer = pq.ParquetWriter(temporary, schema, compression="zstd")
                writer.write_table(block.cast(schema))
        finally:
            if writer is not None:
                writer.close()
    manifest.write_beside(run.out)
    return run.out
