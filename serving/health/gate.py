"""The round-health check as the commands use it: run and keep it, and stop a round that has an
error until someone with a name and a reason accepts it (recorded like a promotion override)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.contract.delivery import ContractError, ensure_validated
from serving.health.report import (
    CHECK_VERSION,
    REPORT_FILE,
    health_dir,
    health_json,
    log_health,
    read_health,
    write_health,
)
from serving.health.round import HealthCannotRun, RoundHealth, check_round
from serving.scoring.champion import Champion, NoChampion, load_champion
from serving.scoring.households import input_digests

__all__ = ["Acceptance", "HealthCannotRun", "RoundRefused", "health_for_scoring", "run_health"]


class RoundRefused(Exception):
    """The round has an error finding and nobody has accepted it."""


@dataclass(frozen=True)
class Acceptance:
    reason: str
    by: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("--accept-health needs a reason: what was checked, and why the round may go out")
        if not self.by.strip():
            raise ValueError("--accept-health needs --by: who accepts the round's errors")


def run_health(
    data_dir: Path,
    as_of: pd.Timestamp,
    champion: Champion | None = None,
    records=None,
    round_table: Callable[[], Path] | None = None,
) -> tuple[RoundHealth, Path]:
    """Check the round, write health.json and the report, log them beside the champion's run.
    `records`: the data folder's records, whose recorded visit outcomes count beside the delivery's;
    `round_table`: where the round's features are built for its scoring (check_round)."""
    recorded = records.table("visit_outcomes") if records is not None else None
    try:
        champion = champion or load_champion()
        health = check_round(data_dir, as_of, champion, recorded, round_table)
    except (NoChampion, ContractError) as error:
        raise HealthCannotRun(str(error)) from None
    folder = write_health(health, data_dir)
    log_health(folder, health)
    return health, folder


def health_for_scoring(
    data_dir: Path,
    as_of: pd.Timestamp,
    champion: Champion,
    acceptance: Acceptance | None,
    records=None,
    recorder: Callable[[], object] | None = None,
    scores: Path | None = None,
    round_table: Callable[[], Path] | None = None,
) -> dict[str, object]:
    """What the round's manifest says of its health. The check already written for this round, this
    model (version and run) and these delivered files, by this version of the check, is reused;
    otherwise it runs now. Errors stop the round unless accepted. `records` (when any exist) are
    read for the visits recorded through the service; an acceptance is written to the records
    `recorder` opens (who, why, which errors, for which scores file), before anything is scored.
    `round_table` builds (or finds) the features the scoring will read, for the check to read too."""
    as_of = pd.Timestamp(as_of).normalize()
    kept = read_health(data_dir, as_of)
    inputs = input_digests(ensure_validated(data_dir))
    reusable = kept is not None and all(
        kept.get(key) == value
        for key, value in (
            ("model_version", champion.version),
            ("model_run_id", champion.run_id),
            ("inputs", inputs),
            ("check_version", CHECK_VERSION),
        )
    )
    if not reusable:
        health, _ = run_health(data_dir, as_of, champion, records, round_table)
        kept = health_json(health)
    findings = kept["findings"]
    errors = [f["sentence"] for f in findings if f["grade"] == "error"]
    warnings = [f["sentence"] for f in findings if f["grade"] == "warning"]
    summary: dict[str, object] = {
        "verdict": kept["verdict"],
        "checked_at": kept["checked_at"],
        "errors": errors,
        "warnings": warnings,
    }
    if errors and acceptance is None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RoundRefused(
            f"round {as_of.date()} has an error in its health check: {errors[0]}{more}. Read "
            f"{health_dir(data_dir, as_of) / REPORT_FILE}; to score it anyway, pass "
            "--accept-health REASON --by NAME (recorded)"
        )
    if errors and acceptance is not None:
        if recorder is None:
            raise ValueError("an accepted health error must be recorded: no records to write it to")
        recorder().audit(
            acceptance.by,
            "operator",
            "score.accept_health",
            [],
            {
                "round": str(as_of.date()),
                "model_version": champion.version,
                "reason": acceptance.reason,
                "errors": errors,
                "scores": str(scores) if scores is not None else "",
            },
        )
        summary["accepted"] = {"by": acceptance.by, "reason": acceptance.reason}
    return summary
