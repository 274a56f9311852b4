"""Crisis-indicator features: counts per category and window, recency, amounts, repetition, trend.

Windows are on `reported_on` — the day the city learnt of the event — never on the month the
event refers to, which is known only months later.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.catalogue import CATEGORY_NAMES, CRISIS_WINDOWS_MONTHS


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
    query = f"""
    WITH events AS (
        SELECT e.household_id, e.indicator, e.reference_month, e.reported_on, e.amount_krw,
               e.months_overdue, coalesce(c.category, 'other') AS category
        FROM crisis_events e LEFT JOIN indicator_categories c ON e.indicator = c.code
        WHERE e.reported_on <= $as_of
    )
    SELECT
        household_id,
        {", ".join(per_category)},
        {", ".join(distinct)},
        date_diff('day', max(reported_on), $as_of)::DOUBLE AS crisis_days_since_last,
        coalesce(max(months_overdue) FILTER (WHERE {_within(12)}), 0)::DOUBLE
            AS crisis_max_months_overdue_12m,
        coalesce(sum(amount_krw) FILTER (WHERE {_within(12)}), 0)::DOUBLE AS crisis_amount_12m,
        (count(*) FILTER (WHERE {_within(3)}) > 0
            AND count(*) FILTER (WHERE NOT {_within(3)}) = 0)::INTEGER AS crisis_first_ever_3m,
        count(DISTINCT reference_month) FILTER (WHERE {_within(12)}) AS crisis_repeat_months_12m,
        (count(*) FILTER (WHERE {_within(3)})
            - count(*) FILTER (WHERE {_within(6)} AND NOT {_within(3)})) AS crisis_trend_3m
    FROM events
    GROUP BY household_id
    """
    return query, {"as_of": as_of.date()}


def crisis_features(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    query, params = crisis_query(as_of)
    return con.execute(query, params).df()
