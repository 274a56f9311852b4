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

from features.families.history import found_within

__all__ = [
    "CareEvent",
    "CareMark",
    "Knowledge",
    "Known",
    "KnownHouseholds",
    "known_households",
    "window_start",
]


SEOUL = dt.timezone(dt.timedelta(hours=9), "KST")


def seoul_day(recorded_at: str) -> dt.date:
    """The city's day a record was made on (records are stamped in UTC, ISO 8601)."""
    return dt.datetime.fromisoformat(recorded_at).astimezone(SEOUL).date()


"""The day a mark was made is the planner's day (Korea keeps no daylight saving), not UTC's."""


@dataclass(frozen=True)
class CareMark:
    """A planner's mark that a household is in a team's regular care (until the mark is ended)."""

    household_id: str
    since: str
    """The day the household came into care: a repeated `in_care` updates the reason, not this."""
    reason: str
    recorded_by: str


@dataclass(frozen=True)
class CareEvent:
    """One `in_care` / `end_care` row as recorded (`recorded_at` in UTC, ISO 8601)."""

    household_id: str
    action: str
    reason: str
    recorded_by: str
    recorded_at: str

    @property
    def day(self) -> dt.date:
        return seoul_day(self.recorded_at)


@dataclass(frozen=True)
class Knowledge:
    """What the service's records know about households, read once for a request and shared by
    the lists of both rounds it compares: positive findings (household, visit day) and care
    events, in the order recorded. Each round asks for what was known by its own day, so the
    previous round's lists are the ones planners saw then, not rebuilt with today's findings: a
    finding counts for a past round only if the visit was on or before its day *and* recorded by
    then, so a visit recorded today with an earlier date cannot change a list planners saw."""

    findings: tuple[tuple[str, dt.date, dt.date], ...] = ()
    """(household, visited on, recorded on (UTC))."""
    care_events: tuple[CareEvent, ...] = ()

    def findings_between(self, since: dt.date, until: dt.date | None) -> dict[str, dt.date]:
        """The latest finding per household from `since` to `until` (no end when None)."""
        latest: dict[str, dt.date] = {}
        for household_id, day, recorded in self.findings:
            inside = day >= since and (until is None or (day <= until and recorded <= until))
            if inside and (household_id not in latest or day > latest[household_id]):
                latest[household_id] = day
        return latest

    def in_care_on(self, until: dt.date | None) -> dict[str, CareMark]:
        """The households in care after the marks made by `until` (all marks when None)."""
        marks: dict[str, CareMark] = {}
        for event in self.care_events:
            day = event.day
            if until is not None and day > until:
                continue
            if event.action == "end_care":
                marks.pop(event.household_id, None)
                continue
            earlier = marks.get(event.household_id)
            since = earlier.since if earlier is not None else day.isoformat()
            marks[event.household_id] = CareMark(event.household_id, since, event.reason, event.recorded_by)
        return marks


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
    knowledge: Knowledge,
    until: dt.date | None = None,
) -> KnownHouseholds:
    """The known households of `area` (rows of a scored round) on the round `as_of`.

    `knowledge`: what the service recorded (findings not yet delivered, care marks); `until`:
    the last day of it that counts (None for the round being worked on, which knows everything
    recorded so far; a past round's day for the lists it had)."""
    day = pd.Timestamp(as_of).normalize()
    since = (day - pd.Timedelta(days=window_days)).date()
    known: dict[str, Known] = {}
    if "last_finding_on" in area.columns:
        delivered = pd.to_datetime(area["last_finding_on"])
        inside = found_within(delivered, day, window_days)
        for household_id, found in zip(area.loc[inside, "household_id"], delivered[inside], strict=True):
            known[household_id] = _found(pd.Timestamp(found).date())
    recorded = knowledge.findings_between(since, until)
    care = knowledge.in_care_on(until)
    wanted = set(recorded) | set(care)
    in_area = set(area.loc[area["household_id"].isin(wanted), "household_id"]) if wanted else set()
    for household_id, found_on in recorded.items():
        if household_id not in in_area:
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


def window_start(as_of: pd.Timestamp, window_days: int) -> dt.date:
    """The first day whose finding still makes a household known on the round `as_of`."""
    return (pd.Timestamp(as_of).normalize() - pd.Timedelta(days=window_days)).date()


def known_for_lists(
    records,
    area: pd.DataFrame,
    as_of: pd.Timestamp,
    previous_area: pd.DataFrame | None,
    previous_as_of: pd.Timestamp | None,
    window_days: int,
    latest: bool = True,
) -> tuple[KnownHouseholds, KnownHouseholds | None]:
    """Who is known on a list's round and on the round it compares with, from one read of the
    records (serving/records/store.Records.knowledge). The latest round knows everything recorded so
    far; an earlier one (asked for with as_of, or compared with) what was recorded by its day."""
    earliest = previous_as_of if previous_area is not None and previous_as_of is not None else as_of
    knowledge = records.knowledge(window_start(earliest, window_days))
    now = known_households(
        area, as_of, window_days, knowledge, until=None if latest else pd.Timestamp(as_of).date()
    )
    if previous_area is None or previous_as_of is None:
        return now, None
    before = known_households(
        previous_area, previous_as_of, window_days, knowledge, until=pd.Timestamp(previous_as_of).date()
    )
    return now, before
