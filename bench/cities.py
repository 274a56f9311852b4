"""Synthetic cities for the benchmarks, and `anbu train` on them in its own process.

A city is generated and validated once per (variant, seed, size) and reused by later runs (a
delivery, not part of what is measured). Each training run gets a fresh MLflow store, so a
benchmark reads exactly the run it made.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.measured import measured_anbu  # noqa: E402
from training.figures import Basis, Figures  # noqa: E402


def number(
    figures: Figures, basis: Basis, measure: str, scorer: str = "model", missing: float = math.nan
) -> float:
    """An exact figure for a benchmark's table and medians: `missing` where the run has none."""
    value = figures.exact(basis, measure, scorer)
    return missing if value is None else value


def _anbu(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "anbu.cli", *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def city(work: Path, variant: str, seed: int, households: int, months: int = 24) -> Path:
    """A generated and validated city (made once, then reused)."""
    folder = work / f"city-{variant}-{seed}-{households}{'' if months == 24 else f'-{months}m'}"
    if not (DataFolder(folder).validated / "validation.json").is_file():
        print(f"generating and validating {variant} seed {seed} ({households:,} households) …", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        _anbu(
            "generate",
            "--households",
            str(households),
            "--seed",
            str(seed),
            "--variant",
            variant,
            "--months",
            str(months),
            "--out",
            str(folder),
            "--no-report",
        )
        _anbu("validate", "--data", str(folder))
    return folder


@dataclass(frozen=True)
class TrainedRun:
    seconds: float
    peak_gib: float
    store: Path
    run_id: str
    metrics: dict[str, float]
    tags: dict[str, str]

    @property
    def figures(self) -> Figures:
        return Figures(self.metrics)

    def artifact(self, path: str) -> pd.DataFrame | None:
        """A CSV artifact of the run (None when the run did not write it)."""
        import mlflow  # noqa: PLC0415

        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{self.store / 'mlflow.db'}")
        try:
            local = client.download_artifacts(self.run_id, path, str(self.store / "downloads"))
        except Exception:  # noqa: BLE001 - an absent artifact is an answer here
            return None
        return pd.read_csv(local)


def store_environment(store: Path) -> dict[str, str]:
    environment = {**os.environ, "ANBU_MODELS_DIR": str(store), "PYTHONWARNINGS": "ignore"}
    environment.pop("MLFLOW_TRACKING_URI", None)
    return environment


def train(data: Path, config: Path, store: Path, fresh: bool = True) -> TrainedRun:
    """`anbu train` in its own process (wall time and peak memory are its own); the run it made."""
    if fresh:
        shutil.rmtree(store, ignore_errors=True)
    seconds, peak = measured_anbu(
        "train", "--data", str(data), "--config", str(config), environment=store_environment(store)
    )
    import mlflow  # noqa: PLC0415

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], order_by=["attributes.start_time DESC"]
    )
    run = runs[0]
    return TrainedRun(seconds, peak, store, run.info.run_id, dict(run.data.metrics), dict(run.data.tags))


def promote(store: Path) -> tuple[int, str]:
    """`anbu promote` on the store: its exit code and what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "anbu.cli", "promote"],
        cwd=ROOT,
        env=store_environment(store),
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout.strip()
