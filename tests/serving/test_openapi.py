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


def test_the_document_describes_refusals_and_how_to_present_a_key(server) -> None:
    document = server.get("/docs.json", role=None).json()
    assert document["components"]["securitySchemes"]["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    for path in (
        "/score",
        "/score_features",
        "/rank",
        "/outcomes",
        "/model",
        "/reload",
        "/planner/export.{kind}",
    ):
        for operation in document["paths"][path].values():
            assert {"401", "403", "413", "415", "422", "503"} <= set(operation["responses"]), path
            body = operation["responses"]["403"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}
            assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerAuth": []}]
    assert document["paths"]["/livez"]["get"]["security"] == [{}]
    assert document["paths"]["/metrics"]["get"]["security"] != [{}]
    refused = server.post("/rank", {"request": {"gu": "종로구", "capacity": 3}}, role="district")
    assert set(refused.json()) <= set(document["components"]["schemas"]["ErrorBody"]["properties"])
