"""One `anbu` command in its own process, with its wall time and its own peak memory.

Peak memory must be the command's, not the benchmark's (which holds samples and baselines), so
each measured step is a child process and its maximum resident set comes from wait4.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured_anbu(*args: str, environment: dict[str, str] | None = None) -> tuple[float, float]:
    """Run `anbu ARGS…`; return (seconds, peak GiB). Exits with the command's error output on failure."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "anbu.cli", *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"anbu {' '.join(args)} failed:\n{errors.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / (1 << 20)
