"""What outreach already knows: earlier visits and their outcomes, and contacts with the 120 line."""

from __future__ import annotations

import duckdb
import pandas as pd

from features.catalogue import LEVEL_NAMES
from features.contract.schemas import POSITIVE_OUTCOMES

KNOWN_WINDOW_DAYS = 365
"""How long a visit that found isolation or risk keeps a household known to outreach: the
line between the discovery and the re-check list (serving/records/known.py) and the population the
discovery figures are measured on (training/discovery.py). About a year of regular contact."""


def found_within(last_finding_on: pd.Series, day, window_days: int = KNOWN_WINDOW_DAYS) -> pd.Series:
    """Per household: its last isolated or at-risk finding falls in the window up to `day` (a date
    or a per-row series of round dates): the one definition of known-by-a-visit that the lists and
    the training figures share."""
    found = pd.to_datetime(last_finding_on)
    day = pd.to_datetime(day)
    return found.notna() & (found <= day) & (found >= day - pd.Timedelta(days=window_days))


def history_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """Visits on or before `as_of` and 120-line contacts before the end of that day."""
    outcome_code = " ".join(
        f"WHEN '{o}' THEN {code}" for code, o in enumerate(LEVEL_NAMES["last_visit_outcome"])
    )
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
               count(*) FILTER (WHERE contacted_at >= $day_end - INTERVAL 90 DAY) AS contacts_120_90d,
               count(*) FILTER (WHERE topic = 'crisis') AS contacts_120_crisis_365d
        FROM call_center_contacts
        WHERE contacted_at < $day_end AND contacted_at >= $day_end - INTERVAL 365 DAY
        GROUP BY household_id
    )
    SELECT household_id,
           v.visits_before,
           (CASE v.last_outcome {outcome_code} END) AS last_visit_outcome,
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


def history_features(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    query, params = history_query(as_of)
    return con.execute(query, params).df()
