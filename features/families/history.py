"""What outreach already knows: earlier visits and their outcomes, and contacts with the 120 line."""

from __future__ import annotations

import pandas as pd

from features.contract.vocabulary import POSITIVE_OUTCOMES, VISIT_OUTCOMES
from features.declaration import Feature, FeatureFamily, level_code, levels_of


def found_within(last_finding_on: pd.Series, day, window_days: int) -> pd.Series:
    """Per household: its last isolated or at-risk finding falls in the window up to `day` (a date
    or a per-row series of round dates): the one definition of known-by-a-visit that the lists and
    the training figures share; the window is the city's setting (anbu/settings.py)."""
    found = pd.to_datetime(last_finding_on)
    day = pd.to_datetime(day)
    return found.notna() & (found <= day) & (found >= day - pd.Timedelta(days=window_days))


CONTACTS_WINDOW_DAYS = 90
"""The window of loneliness-line contacts: about one quarter."""
CRISIS_CONTACTS_WINDOW_DAYS = 365
"""The window of crisis contacts with the 120 line, rarer than loneliness calls."""
LAST_VISIT_OUTCOMES = levels_of(
    VISIT_OUTCOMES,
    {
        "isolated": ("고립", "isolated"),
        "at_risk": ("고립 위험", "at risk"),
        "not_isolated": ("비고립", "not isolated"),
        "unreachable": ("만나지 못함", "unreachable"),
        "moved": ("전출", "moved"),
        "refused": ("방문 거부", "refused"),
    },
)

FEATURES = (
    Feature(
        "visits_before",
        "이전 방문 횟수",
        "previous outreach visits",
        "count",
        reason_ko="이전 방문 {value}회",
        reason_en="{value} previous visit{s}",
        fill="zero",
    ),
    Feature(
        "last_visit_outcome",
        "가장 최근 방문 결과",
        "outcome of the latest visit",
        "level",
        reason_ko="지난 방문 결과: {level_ko}",
        reason_en="latest visit found: {level_en}",
        levels=LAST_VISIT_OUTCOMES,
        reason_when="present",
    ),
    Feature(
        "days_since_last_visit",
        "가장 최근 방문 후 경과 일수",
        "days since the latest visit",
        "days",
        reason_ko="마지막 방문 {ago_ko}",
        reason_en="last visited {ago_en}",
        reason_when="present",
    ),
    Feature(
        "positive_visits_before",
        "이전 방문에서 고립·위험 확인 횟수",
        "previous visits that found isolation or risk",
        "count",
        reason_ko="이전 방문에서 고립·위험 {value}회 확인",
        reason_en="isolation or risk found on {value} earlier visit{s}",
        fill="zero",
    ),
    Feature(
        "flagged_without_finding",
        "명단·경보로 방문했으나 확인되지 않은 횟수",
        "times flagged by a list or alert without a finding",
        "count",
        fill="zero",
    ),
    Feature(
        "contacts_120_90d",
        "최근 90일 120 외로움 상담 건수",
        "contacts with the 120 loneliness line, last 90 days",
        "count",
        reason_ko="최근 3개월 120 외로움 상담 {value}건",
        reason_en="{value} call{s} to the 120 loneliness line in 3 months",
        window_days=CONTACTS_WINDOW_DAYS,
        fill="zero",
    ),
    Feature(
        "contacts_120_crisis_365d",
        "최근 1년 120 위기 상담 건수",
        "crisis contacts with the 120 line, last 12 months",
        "count",
        reason_ko="최근 1년 120 위기 상담 {value}건",
        reason_en="{value} crisis call{s} to the 120 line this year",
        window_days=CRISIS_CONTACTS_WINDOW_DAYS,
        fill="zero",
    ),
)


def history_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """Visits on or before `as_of` and 120-line contacts before the end of that day."""
    positive = ", ".join(f"'{o}'" for o in POSITIVE_OUTCOMES)
    query = f"""
    WITH ordered AS (
        -- the latest visit first (same day: outcomes in name order), in SQL DuckDB and Spark share
        SELECT household_id, outcome, visited_on, trigger,
               row_number() OVER (PARTITION BY household_id ORDER BY visited_on DESC, outcome) AS nth
        FROM outreach_visits WHERE visited_on <= $as_of
    ),
    visits AS (
        SELECT household_id,
               count(*) AS visits_before,
               max(CASE WHEN nth = 1 THEN outcome END) AS last_outcome,
               date_diff('day', max(visited_on), $as_of)::DOUBLE AS days_since_last_visit,
               count(*) FILTER (WHERE outcome IN ({positive})) AS positive_visits_before,
               max(visited_on) FILTER (WHERE outcome IN ({positive})) AS last_finding_on,
               count(*) FILTER (WHERE trigger IN ('system_list', 'sensor_alert')
                                AND outcome NOT IN ({positive})) AS flagged_without_finding
        FROM ordered
        GROUP BY household_id
    ),
    contacts AS (
        SELECT household_id,
               count(*) FILTER (WHERE contacted_at >= $day_end - INTERVAL {CONTACTS_WINDOW_DAYS} DAY) AS contacts_120_90d,
               count(*) FILTER (WHERE topic = 'crisis') AS contacts_120_crisis_365d
        FROM call_center_contacts
        WHERE contacted_at < $day_end AND contacted_at >= $day_end - INTERVAL {CRISIS_CONTACTS_WINDOW_DAYS} DAY
        GROUP BY household_id
    )
    SELECT household_id,
           v.visits_before,
           {level_code("v.last_outcome", LAST_VISIT_OUTCOMES)} AS last_visit_outcome,
           v.days_since_last_visit,
           v.positive_visits_before,
           v.flagged_without_finding,
           c.contacts_120_90d,
           c.contacts_120_crisis_365d,
           v.last_finding_on
    FROM visits v FULL OUTER JOIN contacts c USING (household_id)
    """
    params = {"as_of": as_of.date(), "day_end": as_of + pd.Timedelta(days=1)}
    return query, params


FAMILY = FeatureFamily(
    "history",
    "what outreach already knows: earlier visits and their outcomes, contacts with the 120 line",
    history_query,
    FEATURES,
)
