"""Schemathesis against the running server's OpenAPI document: no input may cause a 5xx.

Valid and invalid requests are generated for every API route (with a key that may call them all);
the only check is "not a server error", because BentoML's generated document does not describe
our 4xx bodies and that is not what this test is about.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_no_generated_request_gets_a_server_error(server, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{server.url}/docs.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"X-API-Key: {server.keys['admin']}",
            "--max-examples",
            "25",
            "--generation-deterministic",
            "--request-timeout",
            "60",
            # reload reloads the model on every call; it is exercised in test_service.py
            "--exclude-path",
            "/reload",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    selected = re.search(r"Operations:\s+(\d+) selected", result.stdout)
    assert selected and int(selected.group(1)) >= 10, report  # every API route and the downloads
