"""The label the contract defines: did a visit in the 90 days after the round find the household
isolated or at risk? Households nobody visited are unlabelled, not negative — how to treat them
is a training decision (experiments/), recorded with the framing used.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.contract.vocabulary import POSITIVE_OUTCOMES, SURVEY_DRAW_VOUCHES_DAYS

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
"""Where a survey label came from: a household a recorded sweep sample drew before its first survey
visit of the window, and no more than SURVEY_DRAW_VOUCHES_DAYS before its last; one drawn only
during the window after a survey visit (the trigger was written before the draw); one no delivered
sample vouches for (a sweep drawn outside anbu, a draw long past, or a visit marked survey by hand)."""


def survey_label_sources(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    """For each household a survey visit saw in the round's label window, where its survey label
    came from (SURVEY_LABEL_SOURCES): the survey is the label set calibration and promotion trust,
    so the evaluation says how much of it rests on draws recorded before the visits. The label is
    what any of the window's survey visits found, so a draw vouches for it only if it came before
    all of them."""
    horizon = (as_of + pd.Timedelta(days=LABEL_HORIZON_DAYS)).date()
    query = f"""
    WITH surveyed AS (
        SELECT household_id, min(visited_on) AS first_visit, max(visited_on) AS last_visit
        FROM outreach_visits
        WHERE trigger = 'survey' AND visited_on > $as_of AND visited_on <= $horizon
        GROUP BY household_id
    )
    SELECT s.household_id,
           CASE WHEN EXISTS (
                    SELECT 1 FROM survey_samples d
                    WHERE d.household_id = s.household_id AND d.drawn_on <= s.first_visit
                      AND s.last_visit <= d.drawn_on + INTERVAL {SURVEY_DRAW_VOUCHES_DAYS} DAY
                ) THEN 'recorded_sample'
                WHEN EXISTS (
                    SELECT 1 FROM survey_samples d
                    WHERE d.household_id = s.household_id AND d.drawn_on > s.first_visit
                      AND d.drawn_on <= $horizon
                ) THEN 'drawn_after_visit'
                ELSE 'no_recorded_sample' END AS source
    FROM surveyed s
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
