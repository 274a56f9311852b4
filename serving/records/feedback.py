"""What a team sends back (visit outcomes, decisions on the list, care marks), checked by the
records' rules before anything is stored.

The rules are the records' promise, whoever sends: a list planners saw in an earlier round stays as
they saw it (only an admin key records for another round, as a correction marked on every decision
it makes); a visit is not dated in the future; a key records only for households of its scope (and
learns nothing of households outside it); text reads as it was typed; a survey visit comes from a
recorded sweep sample; a household leaves care only if it is in care. The API hands plain values in
and turns a `Refused` into its error body; nothing here knows HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from features.contract.visible_text import unreadable
from features.contract.vocabulary import SURVEY_DRAW_VOUCHES_DAYS
from serving.keys.callers import Caller
from serving.records.store import audit_row
from serving.refusal import Refused

CARE_ACTIONS = ("in_care", "end_care")
"""Override actions that are not tied to a round (serving/records/store.py: care_marks)."""
CORRECTION_MARK = "[정정"
"""How a decision an admin key recorded for a past round begins its reason; no other may begin so."""


@dataclass(frozen=True)
class Feedback:
    """What passed the rules, ready for Records.record_feedback."""

    visits: list[dict]
    decisions: list[dict]
    care: list[dict]
    round_date: dt.date
    correction_audit: dict | None
    """A correction's audit row, written in the same transaction as what it records."""


def checked_feedback(
    caller: Caller,
    visits: list[dict],
    overrides: list[dict],
    registry: pd.DataFrame,
    round_date: dt.date,
    served_round: dt.date,
    records,
) -> Feedback:
    """The request's visits and overrides (as plain dicts) for the round `round_date`, whose
    households are `registry` (indexed by id, with gu and dong_code); `served_round` is the round
    being served. Raises Refused, naming the request field, at the first rule broken."""
    correction = round_date != served_round
    if correction and caller.role != "admin":
        raise Refused(
            422,
            "round_date",
            f"round_date: {round_date} is not the served round ({served_round}); its lists stay as "
            "planners saw them, so records are taken for the served round (an admin key records a correction)",
            code="round_closed",
        )
    latest = dt.date.today() + dt.timedelta(days=1)  # a day's grace for the city's time zone
    for slot, visit in enumerate(visits):
        if visit["visited_on"] > latest:
            field = f"visits[{slot}].visited_on"
            raise Refused(422, field, f"{field}: {visit['visited_on']} is in the future", code="future_visit")
    mentioned = sorted({v["household_id"] for v in visits} | {o["household_id"] for o in overrides})
    _check_households(caller, mentioned, registry, round_date)
    _check_readable(visits, overrides)
    _check_survey_visits(visits, records)  # after the scope: a key learns nothing of other areas' samples
    care = [(slot, o) for slot, o in enumerate(overrides) if o["action"] in CARE_ACTIONS]
    _check_care(care, records)
    decisions = [o for o in overrides if o["action"] not in CARE_ACTIONS]
    if correction:  # shown with the decision wherever it is read: the list, the page, the files
        decisions = [{**d, "reason": f"{CORRECTION_MARK} {caller.name}] {d['reason']}"} for d in decisions]
    else:
        for slot, override in enumerate(overrides):
            if override["reason"].lstrip().startswith(CORRECTION_MARK):
                field = f"overrides[{slot}].reason"
                raise Refused(
                    422,
                    field,
                    f"{field}: '{CORRECTION_MARK}' marks an admin's correction of a past round; write the reason without it",
                    code="refused_value",
                )
    audit = (
        audit_row(caller.name, caller.role, "outcomes.correction", mentioned, {"round": str(round_date)})
        if correction
        else None
    )
    return Feedback(visits, decisions, [mark for _, mark in care], round_date, audit)


def _check_households(
    caller: Caller, mentioned: list[str], registry: pd.DataFrame, round_date: dt.date
) -> None:
    if caller.city_wide:
        unknown = [h for h in mentioned if h not in registry.index]
        if unknown:
            raise Refused(
                422,
                "household_id",
                f"household_id: not in the registry of the round {round_date}: {unknown[:10]}",
                code="unknown_household",
                unknown_household_ids=unknown,
            )
        return
    # Outside the scope and not registered get the same answer: a planner key must not be a way
    # to learn whether an id is registered elsewhere in the city.
    inside = registry.reindex(mentioned)
    outside = [
        h
        for h, gu, dong in zip(mentioned, inside["gu"], inside["dong_code"], strict=True)
        if not isinstance(gu, str) or not caller.sees(gu, dong)
    ]
    if outside:
        raise Refused(
            403,
            "household_id",
            f"household_id: {len(outside)} of these households are not among the households of "
            f"this key's scope ({caller.scope_text()}) in the round {round_date}: {outside[:10]}",
            code="outside_scope",
            outside_scope_household_ids=outside,
        )


def _check_readable(visits: list[dict], overrides: list[dict]) -> None:
    """Reasons and notes a reader can see as typed, beyond what the document's pattern can say."""
    texts = [(f"overrides[{slot}].reason", o["reason"]) for slot, o in enumerate(overrides)]
    texts += [(f"visits[{slot}].note", v["note"]) for slot, v in enumerate(visits) if v.get("note")]
    for field, text in texts:
        problem = unreadable(text)
        if problem is not None:
            code, sentence = problem
            raise Refused(422, field, f"{field}: {sentence}", code=code)


def _check_survey_visits(visits: list[dict], records) -> None:
    """A visit may carry the survey trigger only for a household a screening sweep drew, and drew
    before the visit but not long before (SURVEY_DRAW_VOUCHES_DAYS): survey visits are the labels
    promotion and calibration trust."""
    surveyed = [(slot, v) for slot, v in enumerate(visits) if v.get("trigger") == "survey"]
    if not surveyed:
        return
    drawn = records.drawn_for_survey([visit["household_id"] for _, visit in surveyed])
    vouches = dt.timedelta(SURVEY_DRAW_VOUCHES_DAYS)
    for slot, visit in surveyed:
        days = drawn.get(visit["household_id"], [])
        visited = visit["visited_on"]
        if any(day <= visited <= day + vouches for day in days):
            continue
        field = f"visits[{slot}].trigger"
        earlier = [day for day in days if day <= visited]
        if not days:
            when = "in no recorded sweep sample"
        elif not earlier:
            when = f"drawn only on {days[0]}, after the visit"
        else:
            when = f"last drawn on {earlier[-1]}, more than {SURVEY_DRAW_VOUCHES_DAYS} days before the visit"
        raise Refused(
            422,
            field,
            f"{field}: survey is the trigger of a screening sweep's visits, and {visit['household_id']} "
            f"was {when} (record the sample before its visits: anbu records survey-sample)",
            code="not_in_survey_sample",
        )


def _check_care(care: list[tuple[int, dict]], records) -> None:
    """end_care only for a household in care, counting the marks of this request in order."""
    if not any(mark["action"] == "end_care" for _, mark in care):
        return
    in_care = set(records.knowledge(dt.date.max).in_care_on(None))
    for slot, mark in care:
        if mark["action"] == "in_care":
            in_care.add(mark["household_id"])
        elif mark["household_id"] in in_care:
            in_care.discard(mark["household_id"])
        else:
            field = f"overrides[{slot}].action"
            raise Refused(
                422,
                field,
                f"{field}: end_care for {mark['household_id']}, which is not marked in care",
                code="not_in_care",
            )
