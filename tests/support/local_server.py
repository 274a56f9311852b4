"""`bentoml serve` in a child process, until it answers /readyz: for tests and benchmarks.

Tests and benchmarks must measure the real server, not an in-process stand-in, and all of them
need the same start-up: a free port, the process in its own group (BentoML starts a worker
process; stopping the group stops both), and waiting on readiness rather than on a sleep.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx


class ServerFailed(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_environment(
    data: Path, folder: Path, as_of: str | None = None, **settings: str
) -> dict[str, str]:
    """This process's environment plus what a throw-away service needs: its data directory, and
    keys, records and BentoML's home in `folder` (keys.toml, records.sqlite, bentoml/), so a test
    or benchmark never touches the data directory's own. `settings` adds or overrides ANBU_*."""
    environment = {
        **os.environ,
        "ANBU_DATA": str(data),
        "ANBU_KEYS": str(folder / "keys.toml"),
        "ANBU_RECORDS_URL": str(folder / "records.sqlite"),
        "BENTOML_HOME": str(folder / "bentoml"),
        **settings,
    }
    if as_of is not None:
        environment["ANBU_AS_OF"] = as_of
    return environment


@contextmanager
def bentoml_server(
    target: str,
    environment: dict[str, str],
    log: Path,
    working_dir: Path | None = None,
    cwd: Path | None = None,
    ready_within: float = 120.0,
) -> Iterator[str]:
    """Serve `target` (a service import path or a Bento tag); yield its base URL once ready."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("bentoml")), "serve", target]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    if working_dir is not None:
        command += ["--working-dir", str(working_dir)]
    environment = {**environment, "BENTOML_DO_NOT_TRACK": "true"}
    with server_process(command, port, "/readyz", log, environment, cwd, ready_within) as url:
        yield url


@contextmanager
def server_process(
    command: list[str],
    port: int,
    probe: str,
    log: Path,
    environment: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready_within: float = 120.0,
) -> Iterator[str]:
    """Run a server in its own process group until `probe` answers 200 on 127.0.0.1:`port`;
    yield its base URL, then stop the group (SIGTERM, SIGKILL if it has not gone in 30 s)."""
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=environment, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_ready(process, url + probe, log, ready_within)
            yield url
        finally:
            with suppress(ProcessLookupError):  # it may have exited by itself (a refused start)
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _wait_ready(process: subprocess.Popen, probe_url: str, log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(probe_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServerFailed(f"server not ready after {within:g} s: {log.read_text()[-3000:]}")
        time.sleep(0.2)
