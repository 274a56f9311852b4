"""What a round-health check says: graded findings, each one sentence a planner can act on.

A delivery can validate row by row and still have changed under the model (a source gone quiet,
a meter reporting in another unit). Every check of a round says what it found the same way, so
one report, one exit code and one refusal can be built from all of them: an `error` stops a round
from being scored until someone accepts it, a `warning` travels with the round to whoever reads
its lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Grade(StrEnum):
    ERROR = "error"
    """The round would be scored on something other than what the model learnt from."""
    WARNING = "warning"
    """A shift worth knowing before the lists go out; scoring goes on."""


@dataclass(frozen=True)
class Finding:
    grade: Grade
    check: str
    """Which check found it: volume, new_code, level, missing, shift, scores, district_share."""
    subject: str
    """What it is about, as the delivery names it: `crisis_events indicator=GAS_ARREARS`,
    `feature sensor_power_standby_w`, `district 중구`."""
    sentence: str
    """One sentence naming the subject and the size of the change."""
    size: float
    """How far from its usual the subject is, on the check's own scale (larger is further): what
    orders findings of the same grade."""

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "grade": str(self.grade)}


def in_order(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, each the largest first: the first lines are the ones to read."""
    rank = {Grade.ERROR: 0, Grade.WARNING: 1}
    return sorted(findings, key=lambda finding: (rank[finding.grade], -finding.size, finding.subject))
