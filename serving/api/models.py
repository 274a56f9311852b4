"""Request and response bodies of the scoring API: the documented contract other services code to."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema
from pydantic_core import PydanticCustomError

from features.contract.visible_text import INVISIBLE_IN_PROSE, describe
from features.contract.vocabulary import VISIT_OUTCOMES, VISIT_TRIGGERS

EARLIEST = dt.date(2000, 1, 1)
"""No round or visit of this programme predates it; an earlier date is a typing error."""
_DATE_PATTERN = r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"
"""A date of this century as YYYY-MM-DD: the shape the document promises and validation checks.
Whether a date is too late (after the served round, a visit still to come) depends on the day and
the round, so the routes refuse it with 422, naming the field."""
_ISO_DATE = re.compile(_DATE_PATTERN)
_INVISIBLE = re.compile(f"[{INVISIBLE_IN_PROSE}]")
_TEXT_PATTERN = f"^[^{INVISIBLE_IN_PROSE}]*[^\\s{INVISIBLE_IN_PROSE}][^{INVISIBLE_IN_PROSE}]*$"
"""Some visible text and nothing a reader cannot see (control characters, zero-width characters,
bidi controls, Hangul fillers: features/contract/visible_text.py), as a JSON-schema pattern for the
document; the validator uses the same expression, so the document and the service agree (up to
what `\\s` means in the client's regex dialect)."""
_TEXT = re.compile(_TEXT_PATTERN)
LARGEST_LIST = 5_000
"""No list is longer, whoever asks (an admin key has no capacity limit of its own)."""


def _iso_date(value: object) -> object:
    """Dates only as YYYY-MM-DD text of this century: not numbers, datetimes or other spellings."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("invalid_date", "give the date as YYYY-MM-DD, in 2000 or later")
    return value


def _in_range(value: dt.date) -> dt.date:
    if value < EARLIEST:
        raise PydanticCustomError(
            "invalid_date", "{value} is before {earliest}", {"value": str(value), "earliest": str(EARLIEST)}
        )
    return value


def _plain_text(value: str) -> str:
    """The error types are the service's codes (serving/http/errors.py: ERROR_CODES)."""
    found = [describe(char) for char in dict.fromkeys(_INVISIBLE.findall(value))]
    if found:
        raise PydanticCustomError(
            "invisible_characters",
            "holds {characters}: text must read as it was written, with no character a reader cannot see",
            {"characters": ", ".join(found[:3])},
        )
    if not _TEXT.fullmatch(value):
        raise PydanticCustomError("blank_text", "must have a visible character, not only spaces")
    return value


Day = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _DATE_PATTERN}),
]
HouseholdId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Text = Annotated[str, AfterValidator(_plain_text), Field(json_schema_extra={"pattern": _TEXT_PATTERN})]
FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonOut(BaseModel):
    code: str = Field(description="Reason group code, stable across rounds (e.g. crisis_utility).")
    text_ko: str
    text_en: str


class HouseholdScore(BaseModel):
    household_id: str
    risk: float = Field(description="Calibrated probability of being isolated or at risk within 90 days.")
    band: Literal["very_high", "high", "elevated", "low"]
    percentile: float = Field(description="Share of the city's households with a lower risk, in percent.")
    rank: int | None = Field(
        description="City-wide rank in the round (1 = highest); none for ad-hoc features."
    )
    reasons: list[ReasonOut] = Field(max_length=4)


class ScoreRequest(_Body):
    household_ids: list[HouseholdId] = Field(min_length=1, max_length=10_000)
    as_of: Day | None = Field(default=None, description="Round date; default: the round being served.")


class ScoreResponse(BaseModel):
    model_version: str
    round_date: str
    scores: list[HouseholdScore]
    unknown_household_ids: list[str] = Field(
        description="Ids not in the round's registry: reported, not fatal."
    )


class FeatureRow(_Body):
    household_id: str = Field(
        default="",
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]*$",
        description="Caller's own reference, echoed back.",
    )
    features: dict[Annotated[str, Field(max_length=64)], FiniteNumber | None] = Field(
        description="Catalogue feature name -> value; null or absent means unknown (the model handles missing)."
    )


class ScoreFeaturesRequest(_Body):
    households: list[FeatureRow] = Field(min_length=1, max_length=10_000)


class ScoreFeaturesResponse(BaseModel):
    model_version: str
    scores: list[HouseholdScore]
    features_missing: list[str] = Field(
        description="Model features absent from every row (scored as unknown)."
    )


class RankRequest(_Body):
    gu: str = Field(
        min_length=1, max_length=20, description="District as the registry spells it, e.g. 관악구."
    )
    dong: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="Administrative dong (행정동) of the district, by its name (보라매동) or its 10-digit "
        "행정표준코드 (1162052500); /key_scope lists this key's dongs by both.",
    )
    capacity: StrictInt = Field(
        ge=1, le=LARGEST_LIST, description="Households the team can visit this round."
    )
    recheck_capacity: StrictInt = Field(
        default=0,
        ge=0,
        le=LARGEST_LIST,
        description="Of the capacity, how many visits go to households outreach already knows (the "
        "re-check list); the rest go to the discovery list. At most the capacity.",
    )
    as_of: Day | None = None


class ListedHousehold(BaseModel):
    on_list: Literal["discovery", "recheck"] = Field(
        description="discovery: nobody has found it yet; recheck: a recent visit found it isolated or "
        "at risk, or a planner marked it in care."
    )
    list_why_ko: str
    list_why_en: str
    list_rank: int = Field(description="The place on its own list: each list counts from 1.")
    household_id: str
    dong_code: str | None = Field(
        description="The household's 10-digit 행정표준코드; null when the "
        "registry delivered a code that is not one of Seoul's dongs (blanked in validation)."
    )
    dong_name: str = Field(description="The dong's name (행정동 미상 when its code is unknown).")
    risk: float
    band: str
    band_ko: str
    percentile: float
    change: Literal["new", "risen", "fallen", "steady"]
    previous_risk: float | None
    risk_rise: float | None = Field(
        description="Risk now minus risk in the previous round: negative when it fell; null when the "
        "household was not in the previous round (or there is none)."
    )
    reasons_changed: bool
    override: Literal["", "include", "exclude"]
    override_reason: str
    reasons: list[ReasonOut]


class LeftHousehold(BaseModel):
    household_id: str
    previous_risk: float | None
    now_risk: float | None
    why: str


class ExcludedHousehold(BaseModel):
    household_id: str
    dong_code: str | None
    dong_name: str
    risk: float
    band_ko: str
    reason: str = Field(description="Why the planner excluded it.")
    excluded_by: str = Field(description="The key that recorded the exclusion.")
    excluded_at: str = Field(description="When it was recorded (UTC, ISO 8601).")
    since_round: str = Field(description="The round it was recorded for; it stands until withdrawn.")


class ExpectedFindsOut(BaseModel):
    households: int
    expected: float = Field(description="The sum of the listed households' calibrated risks.")
    low: int = Field(description="The 90 % range of the number a visit to each will find, lowest.")
    high: int
    sentence_ko: str
    sentence_en: str


class RankResponse(BaseModel):
    model_version: str
    round_date: str
    previous_round: str | None
    gu: str
    dong: str | None = Field(description="The dong's 10-digit code, when the list is a dong's.")
    dong_name: str | None = Field(description="The dong's name, when the list is a dong's.")
    capacity: int
    discovery_capacity: int
    recheck_capacity: int
    households_in_area: int
    known_in_area: int = Field(description="Households of the area on the re-check side (known).")
    known_window_days: int
    expected_finds: ExpectedFindsOut = Field(
        description="What the list's calibrated risks expect its visits to find (isolated or at risk)."
    )
    households: list[ListedHousehold]
    left_the_list: list[LeftHousehold]
    excluded: list[ExcludedHousehold] = Field(
        description="Households of the area a planner's exclusion keeps off the lists: it stands in "
        "later rounds until a planner withdraws it or includes the household."
    )


class NamedDong(BaseModel):
    code: str = Field(description="The 10-digit 행정표준코드.")
    name: str


class KeyDistrict(BaseModel):
    gu: str
    dongs: list[str] = Field(description="The dong codes of the district this key sees in the served round.")
    named_dongs: list[NamedDong] = Field(
        description="The same dongs with their names, in the order a planner picks from (by name)."
    )
    whole_district: bool = Field(description="Whether the key may ask for the district's whole list.")


class RoundHealthOut(BaseModel):
    verdict: str = Field(
        description="clean, warnings or errors (`anbu health` when the round was scored); empty: not checked."
    )
    warnings: list[str]
    errors: list[str] = Field(
        description="Errors someone accepted to score the round anyway (accepted_by, accepted_reason)."
    )
    accepted_by: str | None = None
    accepted_reason: str | None = None
    checked_at: str = ""

    @classmethod
    def of(cls, health: dict) -> RoundHealthOut:
        accepted = health.get("accepted") or {}
        return cls(
            verdict=str(health.get("verdict", "")),
            warnings=[str(s) for s in health.get("warnings", [])],
            errors=[str(s) for s in health.get("errors", [])],
            accepted_by=accepted.get("by"),
            accepted_reason=accepted.get("reason"),
            checked_at=str(health.get("checked_at", "")),
        )


class KeyScopeResponse(BaseModel):
    name: str
    role: str
    city_wide: bool
    districts: list[KeyDistrict] = Field(description="Where this key's lists may come from (planner, admin).")
    max_capacity: int = Field(description="The largest capacity this key may ask a list for.")
    routes: list[str] = Field(description="Routes the key is limited to; empty: every route of its role.")
    round_served: str
    rounds: list[str] = Field(
        description="The rounds a list can be read for, newest first: the served one, then earlier ones as "
        "planners saw them."
    )
    round_health: RoundHealthOut = Field(description="What the served round's health check said.")


class VisitOutcomeIn(_Body):
    household_id: HouseholdId
    visited_on: Day
    outcome: Literal[VISIT_OUTCOMES]  # type: ignore[valid-type]
    checklist_score: StrictInt | None = Field(default=None, ge=0, le=13)
    trigger: Literal[VISIT_TRIGGERS] = "system_list"  # type: ignore[valid-type]
    note: Text | None = Field(default=None, max_length=500)


class OverrideIn(_Body):
    household_id: HouseholdId
    action: Literal["include", "exclude", "withdraw", "in_care", "end_care"] = Field(
        description="include/exclude/withdraw apply to the round; in_care marks a household as in a "
        "team's regular care (it moves to the re-check list) until end_care; end_care for a household "
        "not in care is refused (422, field overrides[i].action)."
    )
    reason: Text = Field(max_length=500, description="Why the planner decided so (required, visible text).")


class OutcomesRequest(_Body):
    visits: list[VisitOutcomeIn] = Field(default_factory=list, max_length=5_000)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=5_000)
    round_date: Day | None = Field(default=None, description="Round the overrides apply to; default: served.")


class OutcomesResponse(BaseModel):
    recorded_visits: int
    recorded_overrides: int = Field(description="Overrides recorded, care marks (in_care/end_care) included.")
    unknown_household_ids: list[str]


class ModelResponse(BaseModel):
    model_name: str
    model_version: str
    model_family: str = Field(
        description="What kind of model serves: lightgbm, logistic, logistic_plus_trees or "
        "logistic_and_trees (the experiment's audition chooses it where it declares one); every "
        "family's reasons are its own exact attributions."
    )
    run_id: str
    round_served: str
    round_model_version: str = Field(
        description="The model version that scored the served round (an earlier one is served as it was)."
    )
    training_window: dict[str, str]
    metrics: dict[str, float]
    promotion: dict[str, str]
    """How this version became the champion: decision, reasons, when, compared with what, and for
    an override who made it and why."""
    features: list[dict[str, str | None]]
    round_health: RoundHealthOut = Field(description="What the served round's health check said.")


class DongOnMap(BaseModel):
    code: str
    name: str
    x: float | None = Field(description="The dong's inner centroid, in the map's units; null: not placed.")
    y: float | None


class DistrictOnMap(BaseModel):
    gu: str
    path: str = Field(description="The district's outline as SVG path data, in the map's units.")
    label_x: float
    label_y: float


class DistrictMapResponse(BaseModel):
    gu: str
    view_box: list[float] = Field(
        description="SVG viewBox: x, y, width, height (metres in Korea's UTM-K grid, y southward)."
    )
    district: DistrictOnMap
    dongs: list[DongOnMap] = Field(
        description="Every dong of the district, by name; x/y null for a dong newer than the published centroids."
    )


class DistrictDensity(DistrictOnMap):
    households: int
    listed: int = Field(description="Of its households, how many are on the city's list.")
    per_1000: float = Field(description="Listed households per 1,000 of the district's households.")
    expected: float = Field(description="What the listed households' calibrated risks expect visits to find.")


class CityMapResponse(BaseModel):
    round_date: str
    capacity: int = Field(
        description="Visits per district; the city's list holds capacity × 25 households by risk."
    )
    listed: int
    view_box: list[float]
    districts: list[DistrictDensity]
