"""Fingerprints of what the pipeline writes, to show a restructuring changed no behaviour.

Runs the pipeline through the `anbu` command (the one interface a restructuring keeps) on a few
seeds and generator variants — generate, validate, one round's features, a training set, train,
promote, score — and prints a SHA-256 of every file it writes that should depend only on the seed:
the city and its `_truth/`, the validated delivery, the feature round and the training set, and the
scored round. Run it before and after a change and compare (`--save` / `--against`):

    uv run python bench/fingerprint.py --save /tmp/before.json
    ... change ...
    uv run python bench/fingerprint.py --against /tmp/before.json

Files that carry a time or a random id by design (MLflow's store, the records' keys and secrets)
are not fingerprinted. JSON is compared without the keys that say when, how fast or which MLflow
run (`VOLATILE`); a Parquet file by the bytes of its data pages plus its footer's key-value
metadata under the same rule (a scores file carries its manifest, run id included, in the footer).
Two runs of the same code agree on all 90 files (12,000 households a city, ~5 min a run).

A change of a stored format changes bytes without changing what they say. `--rounds-like DIR`
(a copy of an earlier run's `--work` folder) then reads each scored round of both runs with
today's reader and compares them column by column (a field the older layout never stored, such
as a reason's feature, is left out of the comparison):

    uv run python bench/fingerprint.py --save /tmp/before.json && cp -r /tmp/anbu-fingerprint /tmp/before
    ... change ...
    uv run python bench/fingerprint.py --against /tmp/before.json --rounds-like /tmp/before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/features.py is not the package

from anbu.data_folder import DataFolder  # noqa: E402

CITIES = [(7, "default"), (3, "flat_meters"), (11, "slow_reporting")]
AS_OF = "2026-07-31"
TRAINING_ROUNDS = ["2026-03-31", "2026-05-31"]
HOUSEHOLDS = 12_000
# Keys of a manifest that record when or how fast, not what.
VOLATILE = {
    "run_id",
    "model_run_id",  # MLflow draws a new run id for every training
    "created_at",
    "scored_at",
    "build_seconds",
    "seconds",
    "written_at",
    "started_at",
    "fingerprint",  # a delivered file's size and modification time (validation.json)
}


def _anbu(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(["anbu", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"anbu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _digest(path: Path) -> str:
    if path.suffix == ".json":
        return hashlib.sha256(_stable_json(path.read_text())).hexdigest()
    if path.suffix == ".parquet":
        return _parquet_digest(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stable_json(text: str | bytes) -> bytes:
    return json.dumps(_stable(json.loads(text)), sort_keys=True).encode()


def _parquet_digest(path: Path) -> str:
    """The bytes of every data page, byte for byte, and the key-value metadata without its volatile
    keys: a scores file carries its manifest (with the model's run id) in the Parquet footer."""
    raw = path.read_bytes()
    footer = int.from_bytes(raw[-8:-4], "little")
    digest = hashlib.sha256(raw[: len(raw) - 8 - footer])
    metadata = pq.read_schema(pa.BufferReader(raw)).metadata or {}
    for key in sorted(metadata):
        value = metadata[key]
        digest.update(key)
        digest.update(_stable_json(value) if key == b"anbu" else value)
    return digest.hexdigest()


def _stable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def city_fingerprint(seed: int, city_variant: str, work: Path) -> dict[str, str]:
    data = work / f"seed{seed}-{city_variant}"
    env = {**os.environ, "ANBU_MODELS_DIR": str(work / f"models-{seed}-{city_variant}")}
    _anbu(
        "generate",
        "--households",
        str(HOUSEHOLDS),
        "--seed",
        str(seed),
        "--variant",
        city_variant,
        "--out",
        str(data),
        "--no-report",
        env=env,
    )
    _anbu("validate", "--data", str(data), env=env)
    _anbu(
        "features",
        "--data",
        str(data),
        "--as-of",
        AS_OF,
        "--out",
        str(work / "x" / data.name / "round.parquet"),
        env=env,
    )
    rounds = [arg for day in TRAINING_ROUNDS for arg in ("--round", day)]
    _anbu(
        "training-set",
        "--data",
        str(data),
        *rounds,
        "--out",
        str(work / "x" / data.name / "training.parquet"),
        env=env,
    )
    _anbu("train", "--data", str(data), "--config", "experiments/baseline.toml", env=env)
    # The gates judge a model, not a restructuring: a small city may not pass them, and the scores
    # are what is compared, so the fingerprint promotes whatever the config trained.
    _anbu("promote", "--override", "--by", "bench/fingerprint.py", "--reason", "fingerprint run", env=env)
    _anbu("score", "--data", str(data), "--as-of", AS_OF, env=env)
    written = sorted(p for p in data.rglob("*") if p.is_file() and DataFolder(data).records not in p.parents)
    written += sorted((work / "x" / data.name).glob("*.parquet"))
    return {str(p.relative_to(work)): _digest(p) for p in written}


def _is_scored_round(name: str) -> bool:
    return "/_scores/" in name and Path(name).name.startswith("v") and name.endswith(".parquet")


def _said(frame, left_out: set[str]) -> list:
    return [[{k: v for k, v in r.items() if k not in left_out} for r in rs] for rs in frame["reasons"]]


def same_rounds(earlier: Path, work: Path) -> bool:
    """Whether each scored round under `earlier` says what the same round under `work` says."""
    import pandas as pd

    from serving.scoring.rounds import ScoredRound, read_round

    def read(path: Path) -> pd.DataFrame:
        return read_round(ScoredRound(pd.Timestamp(path.parent.name), path.stem.removeprefix("v"), path))

    agree = True
    for before_path in sorted(earlier.glob("*/_scores/*/v*.parquet")):
        name = before_path.relative_to(earlier)
        before, now = read(before_path), read(work / name)
        differ = [
            c
            for c in before.columns.union(now.columns)
            if c != "reasons" and not (c in before and c in now and before[c].equals(now[c]))
        ]
        # A reason's feature was never stored in the flat layout (read as null): only then left out.
        unstored = {"feature"} if "reason_codes" in pq.read_schema(before_path).names else set()
        if _said(before, unstored) != _said(now, unstored):
            differ.append("reasons")
        agree &= not differ
        shown = sum(len(reasons) for reasons in now["reasons"])
        verdict = f"differ in {differ}" if differ else f"equal in all {len(now.columns)} columns"
        left_out = f" (not compared: {sorted(unstored)}, not in the earlier layout)" if unstored else ""
        print(f"  {name}: {len(now):,} households, {shown:,} reasons: {verdict}{left_out}")
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="Write the fingerprints here.")
    parser.add_argument("--against", type=Path, help="Compare with fingerprints saved earlier.")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/anbu-fingerprint"),
        help="Folder the cities are written to (emptied).",
    )
    parser.add_argument(
        "--rounds-like",
        type=Path,
        help="An earlier run's work folder: compare its scored rounds with this run's, as read today.",
    )
    args = parser.parse_args()
    # One fixed folder, emptied first: manifests name the paths they were written to.
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    prints: dict[str, str] = {}
    for seed, city_variant in CITIES:
        prints.update(city_fingerprint(seed, city_variant, args.work))
    print(f"{len(prints)} files from {len(CITIES)} cities ({', '.join(f'seed {s} {v}' for s, v in CITIES)})")
    if args.save:
        args.save.write_text(json.dumps(prints, indent=1, sort_keys=True))
        print(f"saved → {args.save}")
    if args.against:
        before = json.loads(args.against.read_text())
        changed = sorted(k for k in before.keys() & prints.keys() if before[k] != prints[k])
        gone, new = sorted(before.keys() - prints.keys()), sorted(prints.keys() - before.keys())
        for label, names in (("changed", changed), ("missing now", gone), ("new", new)):
            for name in names:
                print(f"  {label}: {name}")
        same = len(before.keys() & prints.keys()) - len(changed)
        print(
            f"{same} of {len(before)} files byte-identical; {len(changed)} changed, {len(gone)} missing, {len(new)} new"
        )
        if args.rounds_like:
            print(f"scored rounds read with today's reader, against {args.rounds_like}:")
            rounds_agree = same_rounds(args.rounds_like, args.work)
            changed = [name for name in changed if not (rounds_agree and _is_scored_round(name))]
        sys.exit(1 if changed or gone or new else 0)


if __name__ == "__main__":
    main()
