"""What visits recorded after earlier rounds found, against what those rounds' risks expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from serving.health.realised import list_visits, realised_findings, realised_finds
from serving.scoring.rounds import scores_path

ROUND = pd.Timestamp("2026-05-31")


def _scored(data: Path, households: int = 400, risk: float = 0.25, day: pd.Timestamp = ROUND) -> list[str]:
    ids = [f"H{i:05d}" for i in range(households)]
    path = scores_path(data, day, "3")
    path.parent.mkdir(parents=True)
    pd.DataFrame({"household_id": ids, "risk": np.full(households, risk)}).to_parquet(path)
    return ids


def _recorded(ids: list[str], found: int, on: str = "2026-06-20") -> pd.DataFrame:
    outcome = ["isolated"] * found + ["not_isolated"] * (len(ids) - found)
    return pd.DataFrame({"household_id": ids, "visited_on": [on] * len(ids), "outcome": outcome})


def test_visits_finding_what_the_risks_expect_raise_nothing(tmp_path: Path) -> None:
    ids = _scored(tmp_path)
    (result,) = realised_finds(tmp_path, pd.Timestamp("2026-09-30"), list_visits(_recorded(ids[:200], 52)))
    assert (result.visited, result.found, result.model_version) == (200, 52, "3")
    assert result.expected.expected == 50.0 and result.window_closed
    assert realised_findings([result]) == []


def test_visits_finding_far_more_than_expected_warn_naming_the_round(tmp_path: Path) -> None:
    ids = _scored(tmp_path)
    (result,) = realised_finds(tmp_path, pd.Timestamp("2026-07-31"), list_visits(_recorded(ids[:200], 90)))
    assert not result.window_closed  # 2026-05-31 + 90 days is after the checked round
    (finding,) = realised_findings([result])
    assert finding.subject == "lists of 2026-05-31" and "understates" in finding.sentence
    assert "found 90 isolated or at risk against 50.0 expected" in finding.sentence


def test_only_a_households_first_visit_inside_the_window_counts(tmp_path: Path) -> None:
    ids = _scored(tmp_path)
    visits = pd.concat(
        [
            _recorded(ids[:100], 0, on="2026-06-01"),
            _recorded(ids[:100], 100, on="2026-06-15"),  # the same households again: not counted twice
            _recorded(ids[100:150], 50, on="2026-05-31"),  # on the round's day: before its window
            _recorded(ids[150:200], 50, on="2026-09-01"),  # after its 90 days
        ]
    )
    (result,) = realised_finds(tmp_path, pd.Timestamp("2026-09-30"), list_visits(visits))
    assert (result.visited, result.found) == (100, 0)


def test_a_visit_after_a_later_list_went_out_belongs_to_that_later_round(tmp_path: Path) -> None:
    ids = _scored(tmp_path)
    _scored(tmp_path, day=pd.Timestamp("2026-07-31"))
    visits = pd.concat(
        [_recorded(ids[:100], 10, on="2026-06-15"), _recorded(ids[100:200], 90, on="2026-08-10")]
    )
    may, july = realised_finds(tmp_path, pd.Timestamp("2026-09-30"), list_visits(visits))
    assert (may.round, may.visited, may.found) == ("2026-05-31", 100, 10)
    assert (july.round, july.visited, july.found) == ("2026-07-31", 100, 90)
