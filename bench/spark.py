"""Benchmark: the Spark engine on local[2] beside the DuckDB path, for a small and a medium city.

    uv run python bench/spark.py                       (after `make demo`: uses its champion)
    uv run python bench/spark.py --households 50000 500000

For each city size a synthetic city is generated and validated once (a delivery, not timed), then
`anbu features` and `anbu score` run in their own processes with `--engine duckdb` (the baseline,
same run) and `--engine spark --spark-master local[2]`, and the wall times are printed with the
ratio. On one 2-core machine Spark pays for its JVM, its planner and its shuffles; it exists for
rounds that do not fit one machine (see docs/spark.md for how it scales with executors).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.measured import measured_anbu  # noqa: E402

AS_OF = "2026-07-31"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--work", type=Path, default=None, help="folder for the cities (default: temporary)")
    arguments = parser.parse_args()
    work = arguments.work or Path(tempfile.mkdtemp(prefix="anbu-spark-bench-"))
    environment = {**os.environ, "PYTHONWARNINGS": "ignore"}

    rows = []
    for households in arguments.households:
        city = work / f"city-{households}"
        if not DataFolder(city).validated.is_dir():
            measured_anbu("generate", "--households", str(households), "--seed", "7", "--out", str(city))
            measured_anbu("validate", "--data", str(city))
        timings = {}
        for step in ("features", "score"):
            for engine in ("duckdb", "spark"):
                out = work / f"{step}-{engine}-{households}.parquet"
                shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
                args = [step, "--data", str(city), "--as-of", AS_OF, "--out", str(out), "--engine", engine]
                if engine == "spark":
                    args += ["--spark-master", "local[2]"]
                timings[step, engine], _ = measured_anbu(*args, environment=environment)
        rows.append((households, timings))

    print(f"round {AS_OF} · cores {os.cpu_count()} · Spark local[2] · each step its own process")
    print()
    print("| households | step | DuckDB (baseline) | Spark local[2] | Spark ÷ DuckDB |")
    print("|---:|---|---:|---:|---:|")
    for households, timings in rows:
        for step in ("features", "score"):
            duck, spark = timings[step, "duckdb"], timings[step, "spark"]
            print(f"| {households:,} | `anbu {step}` | {duck:.1f} s | {spark:.1f} s | {spark / duck:.1f}× |")
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
