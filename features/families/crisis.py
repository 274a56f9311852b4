"""Crisis-indicator features: counts per category and window, recency, amounts, repetition, trend.

Windows are on `reported_on` — the day the city learnt of the event — never on the month the
event refers to, which is known only months later.
"""

from __future__ import annotations

import pandas as pd

from features.declaration import Feature, FeatureFamily
from features.reference import UNKNOWN_INDICATOR_CATEGORY

CRISIS_WINDOWS_MONTHS = (3, 6, 12)
"""The windows every category is counted over."""
YEAR_MONTHS = 12
"""The window of the amount, arrears and repetition features."""
RECENT_MONTHS = 3
"""The window of `crisis_first_ever_3m` and of each half of `crisis_trend_3m`."""

CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "utility": ("공과금 체납·단전", "utility arrears or cut-offs"),
    "housing": ("주거 관련 위기", "housing crisis report{s}"),
    "insurance": ("사회보험료 체납", "social insurance arrears"),
    "finance": ("금융 위기", "financial crisis report{s}"),
    "employment": ("고용 위기", "employment crisis report{s}"),
    "health": ("건강 관련 위기", "health crisis report{s}"),
    "welfare": ("복지 수급 변동", "welfare benefit change{s}"),
    "family": ("가구 구성 변화", "household change{s}"),
    UNKNOWN_INDICATOR_CATEGORY: ("기타 위기정보", "other crisis report{s}"),
}
"""Korean and English names of the indicator categories (features/reference/indicators.csv), for
descriptions and reasons. A new indicator code never adds a column: features are per category, and
a code the catalogue does not know yet counts under `other`. An English name carries `{s}`, its plural
ending (features/declaration.py: Feature.reason_en)."""


def _per_category() -> list[Feature]:
    return [
        Feature(
            f"crisis_{category}_{months}m",
            f"최근 {months}개월 통보된 {name_ko} 위기정보 건수",
            f"{name_en.format(s='s')} reported in the last {months} months",
            "count",
            reason_ko=f"최근 {{window}}개월 {name_ko} {{value}}건",
            reason_en=f"{{value}} {name_en} in the last {{window}} months",
            window_months=months,
            fill="zero",
            reason_group=f"crisis_{category}",
        )
        for category, (name_ko, name_en) in CATEGORY_NAMES.items()
        for months in CRISIS_WINDOWS_MONTHS
    ]


def _distinct() -> list[Feature]:
    return [
        Feature(
            f"crisis_distinct_{months}m",
            f"최근 {months}개월 통보된 서로 다른 위기지표 수",
            f"distinct crisis indicators reported in the last {months} months",
            "count",
            reason_ko="최근 {window}개월 서로 다른 위기지표 {value}종",
            reason_en="{value} different crisis indicator{s} in the last {window} months",
            window_months=months,
            fill="zero",
            reason_group="crisis_distinct",
        )
        for months in CRISIS_WINDOWS_MONTHS
    ]


FEATURES = (
    *_per_category(),
    *_distinct(),
    Feature(
        "crisis_categories_12m",
        "최근 12개월 위기정보가 통보된 분야(공과금·주거·보험료·금융·고용·건강·복지·가구·기타) 수",
        "areas of life (utilities, housing, insurance, finance, work, health, welfare, household; "
        "other for a code not yet in the catalogue) with a crisis report in the last 12 months",
        "count",
        reason_ko="최근 12개월 {value}개 분야에서 위기정보",
        reason_en="areas of life with crisis reports in the last 12 months: {value}",
        window_months=YEAR_MONTHS,
        fill="zero",
    ),
    Feature(
        "crisis_days_since_last",
        "가장 최근 위기정보 통보 후 경과 일수",
        "days since the latest crisis report",
        "days",
        reason_ko="최근 위기정보 통보 {ago_ko}",
        reason_en="latest crisis report {ago_en}",
        reason_when="present",
    ),
    Feature(
        "crisis_max_months_overdue_12m",
        "최근 12개월 최장 체납 개월 수",
        "longest arrears in months, last 12 months",
        "count",
        reason_ko="{value}개월 체납",
        reason_en="{value} month{s} of arrears",
        window_months=YEAR_MONTHS,
        fill="zero",
    ),
    Feature(
        "crisis_amount_12m",
        "최근 12개월 체납·지출 금액 합계(원)",
        "total amount in arrears or spent, last 12 months (KRW)",
        "krw",
        reason_ko="체납·지출 금액 {value}",
        reason_en="{value} in arrears or spent",
        window_months=YEAR_MONTHS,
        fill="zero",
    ),
    Feature(
        "crisis_first_ever_3m",
        "최근 3개월 처음으로 위기정보 통보",
        "first crisis report ever, in the last 3 months",
        "flag",
        reason_ko="최근 3개월 처음으로 위기정보 발생",
        reason_en="first crisis report ever, in the last 3 months",
        window_months=RECENT_MONTHS,
        fill="zero",
    ),
    Feature(
        "crisis_repeat_months_12m",
        "최근 12개월 위기정보가 있었던 달의 수",
        "months with a crisis report in the last 12 months",
        "count",
        reason_ko="최근 12개월 중 {value}개월 연속·반복 위기정보",
        reason_en="crisis reports in {value} of the last 12 months",
        window_months=YEAR_MONTHS,
        fill="zero",
    ),
    Feature(
        "crisis_trend_3m",
        "최근 3개월 건수 − 그 전 3개월 건수",
        "crisis reports in the last 3 months minus the 3 before",
        "count",
        reason_ko="위기정보 증가 추세(+{value}건)",
        reason_en="crisis reports rising (+{value})",
        window_months=2 * RECENT_MONTHS,
        fill="zero",
    ),
)


def _within(months: int) -> str:
    return f"reported_on > $as_of - INTERVAL {months} MONTH"


def crisis_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """One row per household with at least one crisis report on or before `as_of`."""
    per_category = [
        f"count(*) FILTER (WHERE category = '{category}' AND {_within(m)}) AS crisis_{category}_{m}m"
        for category in CATEGORY_NAMES
        for m in CRISIS_WINDOWS_MONTHS
    ]
    distinct = [
        f"count(DISTINCT indicator) FILTER (WHERE {_within(m)}) AS crisis_distinct_{m}m"
        for m in CRISIS_WINDOWS_MONTHS
    ]
    year, recent = _within(YEAR_MONTHS), _within(RECENT_MONTHS)
    query = f"""
    WITH events AS (
        SELECT e.household_id, e.indicator, e.reference_month, e.reported_on, e.amount_krw,
               e.months_overdue, coalesce(c.category, '{UNKNOWN_INDICATOR_CATEGORY}') AS category
        FROM crisis_events e LEFT JOIN indicator_categories c ON e.indicator = c.code
        WHERE e.reported_on <= $as_of
    )
    SELECT
        household_id,
        {", ".join(per_category)},
        {", ".join(distinct)},
        count(DISTINCT category) FILTER (WHERE {year}) AS crisis_categories_12m,
        date_diff('day', max(reported_on), $as_of)::DOUBLE AS crisis_days_since_last,
        coalesce(max(months_overdue) FILTER (WHERE {year}), 0)::DOUBLE
            AS crisis_max_months_overdue_12m,
        coalesce(sum(amount_krw) FILTER (WHERE {year}), 0)::DOUBLE AS crisis_amount_12m,
        (count(*) FILTER (WHERE {recent}) > 0
            AND count(*) FILTER (WHERE NOT {recent}) = 0)::INTEGER AS crisis_first_ever_3m,
        count(DISTINCT reference_month) FILTER (WHERE {year}) AS crisis_repeat_months_12m,
        (count(*) FILTER (WHERE {recent})
            - count(*) FILTER (WHERE {_within(2 * RECENT_MONTHS)} AND NOT {recent})) AS crisis_trend_3m
    FROM events
    GROUP BY household_id
    """
    return query, {"as_of": as_of.date()}


FAMILY = FeatureFamily(
    "crisis",
    "crisis-indicator reports per category and window, recency, amounts, repetition, trend",
    crisis_query,
    FEATURES,
)
