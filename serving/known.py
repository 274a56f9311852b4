"""Which households outreach already knows, and why: the line between discovery and re-check.

A discovery round (발굴) is for the households nobody has found yet; the households a team has
already found are visited anyway, in its regular contact. A list that ranks them first spends
the team's capacity on people it knows (on the demo round, 12 of 관악구's 15). So a household
counts as known when a visit found it isolated or at risk within the window (default 12 months)
before the round, from the city's delivered visits (the scored round's `last_finding_on`) or from
outcomes recorded through the service since, or while a planner has marked it as in care.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from features.builders.history import KNOWN_WINDOW_DAYS

__all__ = ["KNOWN_WINDOW_DAYS", "CareMark", "Known", "KnownHouseholds", "known_households"]


@dataclass(frozen=True)
class CareMark:
    """A planner's mark that a household is in a team's regular care (until the mark is ended)."""

    household_id: str
    since: str
    reason: str
    recorded_by: str


@dataclass(frozen=True)
class Known:
    """One known household: why, in the planner's words."""

    why_ko: str
    why_en: str
    found_on: dt.date | None
    """The latest finding inside the window (None when it is known only by a care mark)."""


@dataclass(frozen=True)
class KnownHouseholds:
    as_of: dt.date
    window_days: int
    households: dict[str, Known]

    def __contains__(self, household_id: object) -> bool:
        return household_id in self.households

    def mask(self, household_ids: pd.Series) -> pd.Series:
        return household_ids.isin(self.households.keys())

    def window_text(self) -> tuple[str, str]:
        months = self.window_days / 30.44
        if abs(months - round(months)) < 0.05 and round(months) >= 1:
            return f"최근 {round(months)}개월", f"the last {round(months)} months"
        return f"최근 {self.window_days}일", f"the last {self.window_days} days"

    def not_known_why(self, older_finding: object) -> tuple[str, str]:
        """Why a household is on the discovery list."""
        ko_window, en_window = self.window_text()
        ko = f"발굴: {ko_window} 방문에서 고립·위험 확인 없음, 돌봄 중 아님"
        en = f"not yet known: no visit in {en_window} found isolation or risk, not marked in care"
        if older_finding is not None and not pd.isna(older_finding):
            day = pd.Timestamp(older_finding).date()
            ko += f" (마지막 확인 {day})"
            en += f" (last found {day})"
        return ko, en


def known_households(
    area: pd.DataFrame,
    as_of: pd.Timestamp,
    window_days: int,
    recorded_findings: dict[str, dt.date],
    care: dict[str, CareMark],
) -> KnownHouseholds:
    """The known households of `area` (rows of a scored round) on the round `as_of`.

    `recorded_findings`: the latest positive outcome per household recorded through the service
    (the next delivery will carry them; until then the service's own records know). `care`: the
    households planners have marked as in care."""
    day = pd.Timestamp(as_of).normalize()
    since = (day - pd.Timedelta(days=window_days)).date()
    delivered = area["last_finding_on"] if "last_finding_on" in area.columns else None
    known: dict[str, Known] = {}
    if delivered is not None:
        delivered = pd.to_datetime(delivered)
        inside = delivered.notna() & (delivered >= pd.Timestamp(since)) & (delivered <= day)
        for household_id, found in zip(area.loc[inside, "household_id"], delivered[inside], strict=True):
            found_on = pd.Timestamp(found).date()
            known[household_id] = _found(found_on)
    in_area = set(area["household_id"])
    for household_id, found_on in recorded_findings.items():
        if household_id not in in_area or found_on < since:
            continue
        earlier = known.get(household_id)
        if earlier is None or (earlier.found_on is not None and found_on > earlier.found_on):
            known[household_id] = _found(found_on)
    for household_id, mark in care.items():
        if household_id not in in_area:
            continue
        ko = f"재확인: 돌봄 중 ({mark.recorded_by}, {mark.since}: {mark.reason})"
        en = f"known: marked in care by {mark.recorded_by} on {mark.since} ({mark.reason})"
        earlier = known.get(household_id)
        if earlier is not None:
            ko, en = (
                f"{ko}; {earlier.why_ko.removeprefix('재확인: ')}",
                f"{en}; {earlier.why_en.removeprefix('known: ')}",
            )
        known[household_id] = Known(ko, en, earlier.found_on if earlier else None)
    return KnownHouseholds(day.date(), window_days, known)


def _found(found_on: dt.date) -> Known:
    return Known(
        f"재확인: {found_on} 방문에서 고립·위험 확인",
        f"known: a visit on {found_on} found isolation or risk",
        found_on,
    )


def known_from_records(records, area: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> KnownHouseholds:
    """known_households with what the service's records hold (serving/records.Records)."""
    since = (pd.Timestamp(as_of).normalize() - pd.Timedelta(days=window_days)).date()
    return known_households(area, as_of, window_days, records.findings_since(since), records.in_care())
