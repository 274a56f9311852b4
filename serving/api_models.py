"""Request and response bodies of the scoring API: the documented contract other services code to."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from features.schemas import VISIT_OUTCOMES, VISIT_TRIGGERS

HouseholdId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")


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
    household_ids: list[str] = Field(min_length=1, max_length=10_000)
    as_of: dt.date | None = Field(default=None, description="Round date; default: the round being served.")


class ScoreResponse(BaseModel):
    model_version: str
    round_date: str
    scores: list[HouseholdScore]
    unknown_household_ids: list[str] = Field(
        description="Ids not in the round's registry: reported, not fatal."
    )


class FeatureRow(_Body):
    household_id: str = Field(default="", max_length=64, description="Caller's own reference, echoed back.")
    features: dict[str, float | None] = Field(
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
    dong: str | None = Field(default=None, max_length=20, description="Administrative dong code.")
    capacity: int = Field(ge=1, le=5_000, description="Households the team can visit this round.")
    as_of: dt.date | None = None


class ListedHousehold(BaseModel):
    list_rank: int
    household_id: str
    dong_code: str
    risk: float
    band: str
    band_ko: str
    percentile: float
    change: Literal["new", "risen", "fallen", "steady"]
    previous_risk: float | None
    reasons_changed: bool
    override: Literal["", "include", "exclude"]
    override_reason: str
    reasons: list[ReasonOut]


class LeftHousehold(BaseModel):
    household_id: str
    previous_risk: float | None
    now_risk: float | None
    why: str


class RankResponse(BaseModel):
    model_version: str
    round_date: str
    previous_round: str | None
    gu: str
    dong: str | None
    capacity: int
    households_in_area: int
    households: list[ListedHousehold]
    left_the_list: list[LeftHousehold]


class VisitOutcomeIn(_Body):
    household_id: str = Field(min_length=1, max_length=64)
    visited_on: dt.date
    outcome: Literal[VISIT_OUTCOMES]  # type: ignore[valid-type]
    checklist_score: int | None = Field(default=None, ge=0, le=13)
    trigger: Literal[VISIT_TRIGGERS] = "system_list"  # type: ignore[valid-type]
    note: str | None = Field(default=None, max_length=500)


class OverrideIn(_Body):
    household_id: str = Field(min_length=1, max_length=64)
    action: Literal["include", "exclude", "withdraw"]
    reason: str = Field(min_length=1, max_length=500, description="Why the planner decided so (required).")


class OutcomesRequest(_Body):
    visits: list[VisitOutcomeIn] = Field(default_factory=list, max_length=5_000)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=5_000)
    round_date: dt.date | None = Field(
        default=None, description="Round the overrides apply to; default: served."
    )


class OutcomesResponse(BaseModel):
    recorded_visits: int
    recorded_overrides: int
    unknown_household_ids: list[str]


class ModelResponse(BaseModel):
    model_name: str
    model_version: str
    run_id: str
    round_served: str
    training_window: dict[str, str]
    metrics: dict[str, float]
    promotion: dict[str, str]
    """How this version became the champion: decision, reasons, when, compared with what, and for
    an override who made it and why."""
    features: list[dict[str, str | None]]
