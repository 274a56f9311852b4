"""What outreach sees: calls to the 120 loneliness line, and visits with their findings (labels).

Visits are not a random sample. Most follow the bimonthly national list (households with several
crisis indicators: many turn out fine, unreachable or gone) or a sensor alert; some follow a
referral or a crisis call. Twice a year a district-wide screening survey samples registered
households evenly — the closest thing to an unbiased label. What a visit finds depends on the
latent state with honest noise: isolated people refuse or are not at home, and a quiet household
is sometimes recorded as fine. How often, who the list sends teams to and how large the survey is
differ between city variants (variants.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.latent import LatentLives
from synthetic.period import Period
from synthetic.variants import DEFAULT, CityVariant

OUTCOMES = np.array(["isolated", "at_risk", "not_isolated", "unreachable", "moved", "refused"])
"""Visit outcomes in the order of a variant's outcome table (variants.CityVariant)."""


CHECKLIST_SCORES = {"isolated": (9, 14), "at_risk": (4, 9), "not_isolated": (0, 4)}
"""The checklist score a finding comes with ([low, high) points); no score for a visit that saw nobody."""


def outcome_probabilities(state: np.ndarray, listed: np.ndarray, variant: CityVariant) -> np.ndarray:
    """Each visit's chance of each outcome (OUTCOMES order), given the household's true state."""
    probabilities = variant.outcome_table()[state].copy()
    # A household on a list is often not at the address at all (DOMAIN: 822,292 closed so).
    probabilities[listed, 3] += variant.list_unreachable_extra
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def draw_outcomes(probabilities: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One outcome per visit from its probabilities and one uniform draw in [0, 1)."""
    return OUTCOMES[(uniform[:, None] > probabilities.cumsum(axis=1)).sum(axis=1).clip(max=5)]


def checklist_scores(outcome: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """The drawn score of each finding (one array per CHECKLIST_SCORES entry, in order); -1 for none."""
    return np.select([outcome == finding for finding in CHECKLIST_SCORES], list(scores), -1)


def _month_index(period: Period, days: pd.Series) -> np.ndarray:
    return np.clip(
        np.searchsorted(period.months.to_numpy(), days.to_numpy(), side="right") - 1, 0, period.n_months - 1
    )


def contacts_120(
    households: pd.DataFrame,
    lives: LatentLives,
    registered: np.ndarray,
    period: Period,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Calls and chats to the 120 line: mostly middle-aged callers, more often when isolated."""
    age = (period.start.year - households["head_birth_year"]).to_numpy()[:, None]
    age_factor = np.where(age < 40, 1.0, np.where(age < 65, 1.6, 0.2))
    rate = np.array([0.00015, 0.004, 0.007])[lives.state] * age_factor
    rows, cols = np.nonzero(registered & (rng.random(lives.state.shape) < rate))
    troubled = lives.state[rows, cols] >= 1
    topic = np.where(
        troubled,
        np.array(["loneliness_talk", "crisis", "information"])[
            (rng.random(len(rows))[:, None] > [0.6, 0.82]).sum(1)
        ],
        np.array(["information", "loneliness_talk", "crisis"])[
            (rng.random(len(rows))[:, None] > [0.55, 0.96]).sum(1)
        ],
    )
    young = age[rows, 0] < 40
    channel = np.where(rng.random(len(rows)) < np.where(young, 0.55, 0.15), "chat", "phone")
    at = period.months[cols] + pd.to_timedelta(rng.integers(0, 28 * 24 * 60, len(rows)), unit="min")
    return pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy()[rows],
            "contacted_at": at.floor("min"),
            "channel": channel,
            "topic": topic,
        }
    )


def _system_list_visits(
    households: pd.DataFrame,
    events: pd.DataFrame,
    registered: np.ndarray,
    period: Period,
    rng: np.random.Generator,
    variant: CityVariant,
) -> pd.DataFrame:
    """Every two months the national list flags households with several distinct recent indicators
    (two in the default city) and teams visit a share of them."""
    index = pd.Series(np.arange(len(households)), index=households["household_id"].to_numpy())
    visits = []
    for m in range(1, period.n_months, 2):
        list_day = period.months[m] + pd.Timedelta(days=9)
        recent = events[
            (events["reported_on"] <= list_day) & (events["reported_on"] > list_day - pd.Timedelta(days=90))
        ]
        counts = recent.groupby("household_id")["indicator"].nunique()
        flagged = counts.index[counts >= variant.list_min_indicators].to_numpy()
        rows = index.loc[flagged].to_numpy()
        rows = rows[registered[rows, m] & (rng.random(len(rows)) < variant.list_visit_share)]
        days = list_day + pd.to_timedelta(rng.integers(3, 50, len(rows)), unit="D")
        visits.append(pd.DataFrame({"_row": rows, "visited_on": days, "trigger": "system_list"}))
    return (
        pd.concat(visits, ignore_index=True)
        if visits
        else pd.DataFrame(columns=["_row", "visited_on", "trigger"])
    )


def visits(
    households: pd.DataFrame,
    lives: LatentLives,
    registered: np.ndarray,
    events: pd.DataFrame,
    alerts: pd.DataFrame,
    contacts: pd.DataFrame,
    period: Period,
    rng: np.random.Generator,
    variant: CityVariant = DEFAULT,
) -> pd.DataFrame:
    """outreach_visits rows, with outcomes drawn from the latent state in the visit's month."""
    n = len(households)
    index = pd.Series(np.arange(n), index=households["household_id"].to_numpy())
    parts = [_system_list_visits(households, events, registered, period, rng, variant)]
    chosen = alerts[rng.random(len(alerts)) < variant.sensor_alert_visit_share]
    parts.append(
        pd.DataFrame(
            {
                "_row": index.loc[chosen["household_id"]].to_numpy(),
                "visited_on": chosen["alert_on"].to_numpy()
                + pd.to_timedelta(rng.integers(0, 4, len(chosen)), unit="D"),
                "trigger": "sensor_alert",
            }
        )
    )
    crisis = contacts[(contacts["topic"] == "crisis") & (rng.random(len(contacts)) < 0.5)]
    parts.append(
        pd.DataFrame(
            {
                "_row": index.loc[crisis["household_id"]].to_numpy(),
                "visited_on": crisis["contacted_at"].dt.normalize().to_numpy()
                + pd.to_timedelta(rng.integers(1, 15, len(crisis)), unit="D"),
                "trigger": "call_120",
            }
        )
    )
    referral_rate = np.array([0.00004, 0.0012, 0.004])[lives.state]
    rows, cols = np.nonzero(registered & (rng.random(lives.state.shape) < referral_rate))
    parts.append(
        pd.DataFrame(
            {
                "_row": rows,
                "visited_on": period.months[cols] + pd.to_timedelta(rng.integers(0, 28, len(rows)), unit="D"),
                "trigger": "referral",
            }
        )
    )
    for m in np.flatnonzero(np.isin(period.months.month, variant.survey_months)):
        rows = np.flatnonzero(registered[:, m] & (rng.random(n) < variant.survey_share))
        parts.append(
            pd.DataFrame(
                {
                    "_row": rows,
                    "visited_on": period.months[m]
                    + pd.to_timedelta(rng.integers(0, 28, len(rows)), unit="D"),
                    "trigger": "survey",
                }
            )
        )
    found = pd.concat(parts, ignore_index=True)
    found["visited_on"] = pd.to_datetime(found["visited_on"]).dt.normalize()
    found = found[found["visited_on"] < period.delivered_on].reset_index(drop=True)
    month = _month_index(period, found["visited_on"])
    present = registered[found["_row"].to_numpy(), month]
    found, month = found[present].reset_index(drop=True), month[present]
    state = lives.state[found["_row"].to_numpy(), month]
    listed = (found["trigger"] == "system_list").to_numpy()
    outcome = draw_outcomes(outcome_probabilities(state, listed, variant), rng.random(len(found)))
    score = checklist_scores(
        outcome, *(rng.integers(low, high, len(found)) for low, high in CHECKLIST_SCORES.values())
    )
    return (
        pd.DataFrame(
            {
                "household_id": households["household_id"].to_numpy()[found["_row"].to_numpy()],
                "visited_on": found["visited_on"].to_numpy(),
                "trigger": found["trigger"].to_numpy(),
                "outcome": outcome,
                "checklist_score": pd.array(np.where(score >= 0, score, None), dtype="Int64"),
            }
        )
        .drop_duplicates(["household_id", "visited_on", "trigger"])
        .sort_values(["household_id", "visited_on"], ignore_index=True)
    )
