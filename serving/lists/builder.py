"""One list builder for every door a list leaves by: the API's `rank`, the planner page's downloads
and `anbu rank`.

Each door used to gather the round, the round before it, who is known and the planners' decisions
itself, and the two drifted: `anbu rank` kept a 365-day known window while the service read the
setting. Here a frozen request goes in and the lists come out, with every setting read from the one
`Settings` the caller built; what a door adds is only its own: a key's scope and capacity limit for
the API, the option names and output formats for the command. What cannot be built is a
`serving.refusal.Refused` naming the request field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd

from serving.lists.ranking import OutreachList, outreach_list
from serving.records.known import known_for_lists
from serving.refusal import Refused
from serving.scoring.rounds import RoundNotScored
from serving.scoring.served_rounds import LoadedRound, ServedRounds


@dataclass(frozen=True)
class ListRequest:
    """What a team asks for: an area, how many visits, how many of them for re-checks, a round."""

    gu: str
    capacity: int
    dong: str | None = None
    recheck_capacity: int = 0
    as_of: dt.date | None = None
    """None: the served round."""

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise Refused(
                422, "capacity", f"capacity: {self.capacity} is fewer than one visit", code="out_of_range"
            )
        if not 0 <= self.recheck_capacity <= self.capacity:
            raise Refused(
                422,
                "recheck_capacity",
                f"recheck_capacity: {self.recheck_capacity} is more than the capacity of {self.capacity}",
                code="recheck_over_capacity",
            )


def requested_round(rounds: ServedRounds, field: str, requested: dt.date | None) -> LoadedRound:
    """The stored round a request asks for (default the served one); a later one is refused."""
    as_of = pd.Timestamp(requested) if requested else rounds.as_of
    if as_of > rounds.as_of:
        raise Refused(
            422,
            field,
            f"{field}: {requested} is after the served round {rounds.as_of.date()}",
            code="after_served_round",
        )
    try:
        return rounds.get(as_of)
    except RoundNotScored as error:
        raise Refused(404, field, str(error).replace("as_of", field, 1), code="round_not_scored") from None


@dataclass(frozen=True)
class ListBuilder:
    rounds: ServedRounds
    records: object
    """serving.records.store.Records: the decisions, findings and care marks lists are built from."""
    known_window_days: int

    def build(self, request: ListRequest) -> OutreachList:
        """The discovery and re-check lists of the request's area and round, with what changed since
        the round before it and the planners' decisions; Refused names what cannot be built."""
        loaded = requested_round(self.rounds, "as_of", request.as_of)
        area = loaded.district(request.gu)
        as_of = loaded.scored.as_of
        if area.empty:
            raise Refused(
                404,
                "gu",
                f"gu: no households in {request.gu!r} in the round of {as_of.date()}",
                code="area_empty",
            )
        if request.dong and not (area["dong_code"] == request.dong).any():
            raise Refused(
                404,
                "dong",
                f"dong: no households in dong {request.dong!r} of {request.gu} in the round of {as_of.date()}",
                code="area_empty",
            )
        before = self.rounds.before(as_of)
        previous = before.district(request.gu) if before is not None else None
        if previous is not None and previous.empty:
            previous = None
        before_day = before.scored.as_of if before is not None else None
        known, previous_known = known_for_lists(
            self.records,
            area,
            as_of,
            previous,
            before_day,
            self.known_window_days,
            latest=loaded.scored.as_of == self.rounds.as_of,
        )
        listed = outreach_list(
            area,
            previous,
            request.gu,
            request.dong,
            request.capacity,
            self.records.overrides_for(as_of.date()),
            self.records.overrides_for(before_day.date()) if before_day is not None else {},
            known=known,
            previous_known=previous_known,
            recheck_capacity=request.recheck_capacity,
        )
        return replace(listed, known_window_days=self.known_window_days)
