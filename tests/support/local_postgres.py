"""A throw-away PostgreSQL server from Debian's postgresql package: for tests and benchmarks.

The records' PostgreSQL path is tested against the real server, not a mock. `make test` installs
the package when it is missing (`make postgres`); this starts a private cluster in a temporary
folder on a free port (trust authentication, 127.0.0.1 only) and removes it afterwards. PostgreSQL
refuses to run as root, so under root the cluster belongs to the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.local_server import free_port


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed: run `make postgres` (make test does)."""


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise PostgresMissing(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run `make postgres`"
        )
    return Path(found[-1]).parent


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(database: str = "anbu") -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on a private server."""
    binaries = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="anbu-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    cluster, port = folder / "cluster", free_port()

    def run(*command: str) -> None:
        subprocess.run(
            _as_owner([str(binaries / command[0]), *command[1:]]), check=True, capture_output=True, text=True
        )

    try:
        run("initdb", "-D", str(cluster), "-A", "trust", "-U", "anbu", "-E", "UTF8", "--no-instructions")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        run("pg_ctl", "-D", str(cluster), "-o", options, "-l", str(folder / "server.log"), "-w", "start")
        try:
            run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "anbu", database)
            yield f"postgresql+psycopg://anbu@127.0.0.1:{port}/{database}"
        finally:
            run("pg_ctl", "-D", str(cluster), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"PostgreSQL: {' '.join(error.cmd[-3:])} failed: {error.stderr.strip()}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
