"""Benchmark: how long a planner at the terminal waits for `anbu rank`, against `anbu --help`.

    uv run python bench/cli_start.py                      # the demo round (make demo first)
    uv run python bench/cli_start.py --data data/demo --gu 송파구 --runs 9

Each command runs in its own process, `--runs` times, alternating so that both meet the same
machine; the median wall time of each is printed, with `rank` as a ratio to `--help` (which loads
no data library: the floor of any command) and against the target of 2 s. A run that fails is
reported with its output and the benchmark exits 1. Also printed: the first run of `rank` (Python's
bytecode for the installed packages is compiled at `make install`; without it every run would
compile pandas and SQLAlchemy again, ~4 s).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--as-of", default="2026-07-31")
    parser.add_argument("--gu", default="관악구")
    parser.add_argument("--capacity", type=int, default=15)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    anbu = str(Path(sys.executable).with_name("anbu"))
    rank = [anbu, "rank", "--data", options.data, "--as-of", options.as_of, "--gu", options.gu]
    rank += ["--capacity", str(options.capacity)]
    first = timed(rank)
    helps, ranks = [], []
    for _ in range(options.runs):
        helps.append(timed([anbu, "--help"]))
        ranks.append(timed(rank))
    help_median, rank_median = statistics.median(helps), statistics.median(ranks)
    print(
        f"anbu --help: median {help_median:.2f} s of {options.runs} ({', '.join(f'{s:.2f}' for s in helps)})"
    )
    print(
        f"anbu rank {options.gu} capacity {options.capacity} on {options.data} {options.as_of}: median "
        f"{rank_median:.2f} s of {options.runs} ({', '.join(f'{s:.2f}' for s in ranks)}); first run {first:.2f} s"
    )
    verdict = "✓" if rank_median <= TARGET_SECONDS else "✗"
    print(f"rank ÷ --help: {rank_median / help_median:.1f}x; rank ≤ {TARGET_SECONDS:.0f} s {verdict}")


if __name__ == "__main__":
    main()
