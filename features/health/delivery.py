"""Every check of a delivery that needs no model, for one round: what `anbu health` runs before it
looks at features and scores, and what `anbu train` reports for each round it learns from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.delivery_views import connect
from features.health.findings import Finding, in_order
from features.health.registry import registry_findings
from features.health.volumes import level_findings, quarantine_findings, volume_findings

MEMORY = "3GB"


def delivery_findings(validated_dir: Path, as_of: pd.Timestamp) -> list[Finding]:
    """Each source's volumes, the meters' levels, the quarantine and the registry's codes on `as_of`."""
    with connect(Path(validated_dir), memory_limit=MEMORY) as con:
        return in_order(
            volume_findings(con, as_of)
            + level_findings(con, as_of)
            + quarantine_findings(Path(validated_dir), con, as_of)
            + registry_findings(con, as_of)
        )
