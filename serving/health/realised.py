"""What the visits after earlier rounds found, against what those rounds' risks expected: the
model's realised precision, tracked round by round without waiting for a retraining.

A round's risk is the chance that a visit in the LABEL_HORIZON_DAYS after it finds the household
isolated or at risk. So among the households of a scored round that a list visit reached in that
window, the number found should land in the Poisson-binomial range of their risks
(serving/lists/expected.py). The visits are the outcomes recorded through anbu's service, the
ones its lists sent; each belongs to the latest scored round before it (the windows of consecutive
rounds overlap, and a visit made after a new list went out was chosen by that list), and a
household's first visit of a round counts.

The delivery's own visits are left out, `system_list` ones too: a city's system list is not
necessarily anbu's (the synthetic city's is the national blind-spot list), and visits chosen by
what the model does not see say nothing of its calibration. Counted on the demo city (seed 7),
the national list's visits after the rounds of 2026-03, -05 and -07 found 18.8–21.1 % where the
risks of the same households expected 15.9–16.6 %: three warnings about a list anbu never made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features.contract.vocabulary import POSITIVE_OUTCOMES
from features.health.findings import Finding, Grade
from features.labels import LABEL_HORIZON_DAYS
from serving.lists.expected import ExpectedFinds, expected_finds
from serving.scoring.rounds import scored_rounds, shown_version

ROUNDS_BACK = 3
"""The earlier scored rounds compared (each a round whose window has begun by the checked round)."""
MIN_VISITED = 20
"""Fewer visited households than this are shown but not judged."""


@dataclass(frozen=True)
class RealisedFinds:
    round: str
    model_version: str
    visited: int
    found: int
    expected: ExpectedFinds
    window_closed: bool
    """Whether the round's whole visit window lies before the checked round."""

    def as_json(self) -> dict[str, object]:
        return {
            "round": self.round,
            "model_version": self.model_version,
            "visited": self.visited,
            "found": self.found,
            "expected": round(self.expected.expected, 2),
            "low": self.expected.low,
            "high": self.expected.high,
            "window_closed": self.window_closed,
        }


def list_visits(recorded: pd.DataFrame | None) -> pd.DataFrame:
    """household_id, visited_on, outcome of the visits recorded through the service, once each."""
    if recorded is None or recorded.empty:
        return pd.DataFrame({"household_id": [], "visited_on": pd.to_datetime([]), "outcome": []})
    visits = recorded[["household_id", "visited_on", "outcome"]].copy()
    visits["household_id"] = visits["household_id"].astype(str)
    visits["visited_on"] = pd.to_datetime(visits["visited_on"]).dt.normalize()
    return visits.drop_duplicates(["household_id", "visited_on"])


def realised_finds(data_dir: Path, as_of: pd.Timestamp, visits: pd.DataFrame) -> list[RealisedFinds]:
    """Each of the ROUNDS_BACK scored rounds before `as_of`: its list visits in its window (up to
    `as_of`) against the sum of their risks."""
    as_of = pd.Timestamp(as_of).normalize()
    scored_days = pd.DatetimeIndex(scored_rounds(data_dir))
    earlier = [day for day in scored_days if day < as_of][-ROUNDS_BACK:]
    days = scored_days.to_numpy(dtype="datetime64[ns]")
    latest_before = (
        np.searchsorted(days, visits["visited_on"].to_numpy(dtype="datetime64[ns]"), side="left") - 1
    )
    owner = pd.Series(scored_days[np.maximum(latest_before, 0)], index=visits.index).where(latest_before >= 0)
    results = []
    for day in earlier:
        scored = shown_version(data_dir, day)
        risk = pq.read_table(scored.path, columns=["household_id", "risk"]).to_pandas()
        end = min(day + pd.Timedelta(days=LABEL_HORIZON_DAYS), as_of)
        inside = visits[(owner == day) & (visits["visited_on"] <= end)]
        first = inside.sort_values("visited_on").drop_duplicates("household_id")
        reached = first.merge(risk.astype({"household_id": str}), on="household_id", how="inner")
        results.append(
            RealisedFinds(
                round=str(day.date()),
                model_version=scored.model_version,
                visited=len(reached),
                found=int(reached["outcome"].isin(POSITIVE_OUTCOMES).sum()),
                expected=expected_finds(reached["risk"].to_numpy(dtype="float64")),
                window_closed=day + pd.Timedelta(days=LABEL_HORIZON_DAYS) <= as_of,
            )
        )
    return results


def realised_findings(results: list[RealisedFinds]) -> list[Finding]:
    """A round whose list visits found more or fewer than its risks' 90 % range: a warning."""
    findings = []
    for result in results:
        if result.visited < MIN_VISITED or result.expected.holds(result.found):
            continue
        more = result.found > result.expected.high
        findings.append(
            Finding(
                Grade.WARNING,
                "realised",
                f"lists of {result.round}",
                f"lists of {result.round}: visits to {result.visited:,} listed households found "
                f"{result.found:,} isolated or at risk against {result.expected.expected:,.1f} expected "
                f"(90 % range {result.expected.low:,}–{result.expected.high:,}): isolation-risk "
                f"v{result.model_version} {'under' if more else 'over'}states what visits find "
                f"(precision {result.found / result.visited:.1%} against {result.expected.expected / result.visited:.1%})",
                abs(result.found - result.expected.expected) / max(result.expected.expected, 1.0),
            )
        )
    return findings
