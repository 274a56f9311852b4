"""Schemathesis against the running server's OpenAPI document, with every check it has.

Valid and invalid requests are generated for every route the document describes, with a key that
may call them all: no response may be a 5xx, and every status, content type, header and body must
be one the document declares (tests/serving/schemathesis.toml says what it accepts beyond that).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import tomli_w

from tests.support.served import DISTRICT, ROUND

CONFIG = Path(__file__).with_name("schemathesis.toml")


def _config_for(served, folder: Path) -> Path:
    """The committed configuration plus dictionaries of this city's districts and households."""
    households = pd.read_parquet(served.data / "households.parquet", columns=["household_id", "gu"])
    sample = households["household_id"].sample(20, random_state=0).tolist()
    districts = sorted({DISTRICT, *households["gu"].drop_duplicates().head(3)})
    bindings = {
        "query.gu": "districts",
        "body.request.gu": "districts",
        "body.request.household_ids[*]": "households",
        "body.request.visits[*].household_id": "households",
        "body.request.overrides[*].household_id": "households",
        "body.request.households[*].household_id": "households",
    }
    added = {
        "dictionaries": {
            "districts": {"values": districts},
            "households": {"values": sample},
            "rounds": {"values": [str(ROUND.date())]},
        },
        "parameters": {
            **{key: {"dictionary": name, "probability": 0.7} for key, name in bindings.items()},
            "query.as_of": {"dictionary": "rounds", "probability": 0.5},
            "body.request.as_of": {"dictionary": "rounds", "probability": 0.5},
        },
    }
    text = CONFIG.read_text(encoding="utf-8") + "\n" + tomli_w.dumps(added)
    path = folder / "schemathesis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_generated_request_gets_a_documented_answer_and_none_a_server_error(
    server, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "--config-file",
            str(_config_for(server.served, tmp_path)),
            "run",
            f"{server.url}/docs.json",
            "--checks",
            "all",
            "--header",
            f"X-API-Key: {server.keys['admin']}",
            "--generation-deterministic",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
    )
    report = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", result.stdout)
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
