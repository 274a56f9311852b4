"""One `anbu` command in its own process, with its wall time and its own peak memory.

Peak memory must be the command's, not the benchmark's (which holds samples and baselines), so
each measured step is a child process and its maximum resident set comes from wait4.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""
"""Starts the command from a small process: a child's peak memory (ru_maxrss) counts the memory of
the process it was forked from, so a command forked straight from a benchmark holding its samples,
models and tables would be charged for them (1 GiB more in bench/city_scoring.py's full round)."""


def measured_anbu(*args: str, environment: dict[str, str] | None = None) -> tuple[float, float]:
    """Run `anbu ARGS…`; return (seconds, peak GiB). Exits with the command's error output on failure."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "anbu.cli", *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        reported = launched.stdout.split()
        peak_kib, status = (
            (int(part) for part in reported) if len(reported) == 2 else (0, launched.returncode or 1)
        )
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"anbu {' '.join(args)} failed:\n{errors.read().decode()[-3000:]}")
    return seconds, peak_kib / (1 << 20)
