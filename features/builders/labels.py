"""The label the contract defines: did a visit in the 90 days after the round find the household
isolated or at risk? Households nobody visited are unlabelled, not negative — how to treat them
is a training decision (experiments/), recorded with the framing used.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.schemas import POSITIVE_OUTCOMES

LABEL_HORIZON_DAYS = 90
FRAMING = "visit_within_90d"
"""label 1: a visit in (as_of, as_of + 90 days] found isolated/at_risk; 0: visits found neither;
missing: no visit in the window."""


def labels(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    """Label, the trigger of the visit that decided it, and whether a survey visit saw the household."""
    positive = ", ".join(f"'{o}'" for o in POSITIVE_OUTCOMES)
    query = f"""
    SELECT household_id,
           max((outcome IN ({positive}))::INTEGER)::DOUBLE AS label,
           first(trigger ORDER BY (outcome IN ({positive})) DESC, visited_on, trigger) AS label_trigger,
           bool_or(trigger = 'survey')::INTEGER AS label_survey
    FROM outreach_visits
    WHERE visited_on > $as_of AND visited_on <= $horizon
    GROUP BY household_id
    """
    horizon = (as_of + pd.Timedelta(days=LABEL_HORIZON_DAYS)).date()
    return con.execute(query, {"as_of": as_of.date(), "horizon": horizon}).df()
