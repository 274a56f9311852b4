"""Administrative features from the effective-dated registry, as of the round date.

The registry is the first family: its rows are the round's households, so its features are never
absent (their fill rule does not arise) and it also carries the audit columns lists and the
fairness audit read (gu, dong, head's sex, housing type name).
"""

from __future__ import annotations

import pandas as pd

from features.contract.vocabulary import HOUSING_TYPES, LIVELIHOOD_STATUSES, TENURES
from features.declaration import Feature, FeatureFamily, Level, level_code, levels_of

CHANGE_WINDOW_MONTHS = 12
"""How far back a change to the registry (a drop from support, a shrinking household, a move)
still counts as recent."""


def _level_feature(name: str, ko: str, en: str, levels: tuple[Level, ...]) -> Feature:
    return Feature(
        name,
        ko,
        en,
        "level",
        reason_ko="{level_ko}",
        reason_en="{level_en}",
        levels=levels,
        reason_when="present",
    )


FEATURES = (
    Feature(
        "age",
        "세대주 나이",
        "age of the household head",
        "years",
        reason_ko="세대주 {value}세",
        reason_en="household head aged {value}",
        reason_when="present",
    ),
    Feature(
        "lives_alone", "1인 가구 여부", "lives alone", "flag", reason_ko="1인 가구", reason_en="lives alone"
    ),
    Feature(
        "household_size",
        "세대원 수",
        "members registered at the address",
        "count",
        reason_ko="세대원 {value}명",
        reason_en="{value} registered member{s}",
        reason_when="present",
    ),
    _level_feature(
        "housing_type",
        "주거 형태",
        "housing type",
        levels_of(
            HOUSING_TYPES,
            {
                "apartment": ("아파트", "an apartment"),
                "multi_family": ("다세대·연립", "a multi-family house"),
                "detached": ("단독주택", "a detached house"),
                "officetel": ("오피스텔", "an officetel"),
                "semi_basement": ("반지하", "a semi-basement"),
                "gosiwon": ("고시원", "a gosiwon"),
                "other": ("기타 주거", "other housing"),
            },
        ),
    ),
    _level_feature(
        "tenure",
        "점유 형태",
        "tenure",
        levels_of(
            TENURES,
            {
                "owner": ("자가", "owner-occupied"),
                "jeonse": ("전세", "jeonse lease"),
                "monthly_rent": ("월세", "monthly rent"),
                "public_rental": ("공공임대", "public rental"),
                "other": ("기타 점유", "other tenure"),
            },
        ),
    ),
    Feature(
        "years_at_address",
        "현 주소 거주 기간(년)",
        "years at the current address",
        "years",
        reason_ko="현 주소 거주 {value}년",
        reason_en="{value} year{s} at this address",
        reason_when="present",
    ),
    _level_feature(
        "livelihood_status",
        "기초생활보장 상태",
        "basic livelihood security status",
        levels_of(
            LIVELIHOOD_STATUSES,
            {
                "none": ("비수급", "not a recipient"),
                "applied": ("기초생활 신청 중", "applied for basic livelihood support"),
                "recipient": ("기초생활 수급", "basic livelihood recipient"),
                "dropped": ("기초생활 탈락", "dropped from basic livelihood support"),
            },
        ),
    ),
    Feature(
        "medical_aid",
        "의료급여 수급",
        "receives medical aid",
        "flag",
        reason_ko="의료급여 수급",
        reason_en="receives medical aid",
    ),
    Feature(
        "livelihood_dropped_12m",
        "최근 12개월 기초생활 수급 탈락",
        "dropped from basic livelihood support in the last 12 months",
        "flag",
        reason_ko="최근 1년 내 기초생활 수급 탈락",
        reason_en="dropped from basic livelihood support this year",
        window_months=CHANGE_WINDOW_MONTHS,
    ),
    Feature(
        "household_shrunk_12m",
        "최근 12개월 세대원 감소",
        "fewer registered members than 12 months ago",
        "flag",
        reason_ko="최근 1년 세대원 감소(사망·분가 등)",
        reason_en="household shrank this year (death, moving out)",
        window_months=CHANGE_WINDOW_MONTHS,
    ),
    Feature(
        "moved_in_12m",
        "최근 12개월 전입",
        "moved to this address in the last 12 months",
        "flag",
        reason_ko="최근 1년 내 전입",
        reason_en="moved here in the last year",
        window_months=CHANGE_WINDOW_MONTHS,
    ),
    Feature("gu_code", "자치구(코드)", "district (code)", "level"),
    Feature("head_sex_female", "세대주 여성", "household head is female", "flag", protected=True),
    Feature(
        "disability", "장애 등록 가구원", "registered disability in the household", "flag", protected=True
    ),
)
_LEVELS = {f.name: f.levels for f in FEATURES if f.categorical}


def admin_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """Households in the registry at the end of `as_of`, with their admin features and audit columns."""
    query = f"""
    WITH r AS (
        SELECT * FROM households
        WHERE valid_from <= $as_of AND (valid_to IS NULL OR valid_to > $as_of)
    ),
    year_ago AS (
        SELECT household_id, household_size AS size_year_ago FROM households
        WHERE valid_from <= $year_ago AND (valid_to IS NULL OR valid_to > $year_ago)
    ),
    dropped AS (
        SELECT DISTINCT household_id FROM households
        WHERE livelihood_status = 'dropped' AND valid_from > $year_ago AND valid_from <= $as_of
    )
    SELECT
        r.household_id,
        r.gu,
        r.dong_code,
        r.head_sex,
        r.housing_type AS housing_type_name,
        (year($as_of) - r.head_birth_year)::DOUBLE AS age,
        (r.household_size = 1)::INTEGER AS lives_alone,
        r.household_size::DOUBLE AS household_size,
        {level_code("r.housing_type", _LEVELS["housing_type"])} AS housing_type,
        {level_code("r.tenure", _LEVELS["tenure"])} AS tenure,
        date_diff('day', r.moved_in, $as_of) / CAST(365.25 AS DOUBLE) AS years_at_address,
        {level_code("r.livelihood_status", _LEVELS["livelihood_status"])} AS livelihood_status,
        r.medical_aid::INTEGER AS medical_aid,
        (d.household_id IS NOT NULL)::INTEGER AS livelihood_dropped_12m,
        coalesce(r.household_size < y.size_year_ago, FALSE)::INTEGER AS household_shrunk_12m,
        (r.moved_in > $year_ago)::INTEGER AS moved_in_12m,
        g.gu_code,
        (r.head_sex = 'F')::INTEGER AS head_sex_female,
        r.disability::INTEGER AS disability
    FROM r
    LEFT JOIN year_ago y USING (household_id)
    LEFT JOIN dropped d USING (household_id)
    LEFT JOIN districts g USING (gu)
    ORDER BY r.household_id
    """
    params = {"as_of": as_of.date(), "year_ago": (as_of - pd.DateOffset(months=CHANGE_WINDOW_MONTHS)).date()}
    return query, params


FAMILY = FeatureFamily("admin", "the effective-dated registry as of the round date", admin_query, FEATURES)
