"""The label the contract defines: did a visit in the 90 days after the round find the household
isolated or at risk? Households nobody visited are unlabelled, not negative — how to treat them
is a training decision (experiments/), recorded with the framing used.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.contract.vocabulary import POSITIVE_OUTCOMES

LABEL_HORIZON_DAYS = 90
FRAMING = "visit_within_90d"
"""label 1: a visit in (as_of, as_of + 90 days] found isolated/at_risk; 0: visits found neither;
missing: no visit in the window. survey_label: the same, from the window's survey visits alone."""


def labels(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    """Label, the trigger of the visit that decided it, whether a survey visit saw the household, and
    what the survey visit found.

    The survey's own finding is kept apart from the label because it is the one outcome not chosen
    by who the household is: a surveyed household that a referral also brought a team to is, for
    the survey, what the survey visit found (the unbiased sample calibration and evaluation use).
    """
    positive = ", ".join(f"'{o}'" for o in POSITIVE_OUTCOMES)
    query = f"""
    SELECT household_id,
           max((outcome IN ({positive}))::INTEGER)::DOUBLE AS label,
           first(trigger ORDER BY (outcome IN ({positive})) DESC, visited_on, trigger) AS label_trigger,
           bool_or(trigger = 'survey')::INTEGER AS label_survey,
           max(CASE WHEN trigger = 'survey' THEN (outcome IN ({positive}))::INTEGER END)::DOUBLE
               AS survey_label
    FROM outreach_visits
    WHERE visited_on > $as_of AND visited_on <= $horizon
    GROUP BY household_id
    """
    horizon = (as_of + pd.Timedelta(days=LABEL_HORIZON_DAYS)).date()
    return con.execute(query, {"as_of": as_of.date(), "horizon": horizon}).df()


def survey_visit_days(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.Series:
    """The days survey visits happened in the round's label window (evaluation weights the months
    of a synthetic city's truth by them)."""
    horizon = (as_of + pd.Timedelta(days=LABEL_HORIZON_DAYS)).date()
    query = """
    SELECT visited_on FROM outreach_visits
    WHERE trigger = 'survey' AND visited_on > $as_of AND visited_on <= $horizon
    """
    return con.execute(query, {"as_of": as_of.date(), "horizon": horizon}).df()["visited_on"]


SURVEY_LABEL_SOURCES = ("recorded_sample", "drawn_after_visit", "no_recorded_sample")
"""Where a survey label came from: a household a recorded sweep sample drew on or before its survey
visit; one drawn only after the visit (the trigger was written before the draw); one no delivered
sample names (a sweep drawn outside anbu, or a visit marked survey by hand)."""


def survey_label_sources(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    """For each household a survey visit saw in the round's label window, where its survey label
    came from (SURVEY_LABEL_SOURCES): the survey is the label set calibration and promotion trust,
    so the evaluation says how much of it rests on draws recorded before the visits."""
    horizon = (as_of + pd.Timedelta(days=LABEL_HORIZON_DAYS)).date()
    query = """
    WITH surveyed AS (
        SELECT household_id, max(visited_on) AS last_visit
        FROM outreach_visits
        WHERE trigger = 'survey' AND visited_on > $as_of AND visited_on <= $horizon
        GROUP BY household_id
    ), drawn AS (
        SELECT household_id, min(drawn_on) AS first_drawn FROM survey_samples GROUP BY household_id
    )
    SELECT s.household_id,
           CASE WHEN d.first_drawn IS NULL THEN 'no_recorded_sample'
                WHEN d.first_drawn <= s.last_visit THEN 'recorded_sample'
                ELSE 'drawn_after_visit' END AS source
    FROM surveyed s LEFT JOIN drawn d USING (household_id)
    ORDER BY s.household_id
    """
    return con.execute(query, {"as_of": as_of.date(), "horizon": horizon}).df()


def survey_visits_by_month(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Survey visits per calendar month of the delivery: where screening sweeps fall, so a data
    scientist can place the validation and test rounds before them."""
    query = """
    SELECT strftime(date_trunc('month', visited_on), '%Y-%m') AS month, count(*) AS visits
    FROM outreach_visits WHERE trigger = 'survey' GROUP BY 1 ORDER BY 1
    """
    return con.execute(query).df()
