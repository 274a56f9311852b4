"""The hidden life of each household: financial hardship and the isolation state, month by month.

Isolation follows a three-state chain (NONE → AT_RISK → ISOLATED, with recovery). The monthly onset
hazard is a nonlinear function with interactions — living alone × male × age 50-69, a hump in
age, benefit loss × hardship, bereavement, young people in vulnerable housing — plus an
unobserved frailty, so no linear model of the observables can reach the best possible ranking.
`p_positive_90d` is the exact probability, given the state before a month and the hazards the
generator used, of being AT_RISK or ISOLATED at some point in that month or the two after: the
best possible ranking for a round dated at the end of the previous month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.period import IsolationState
from synthetic.registry import RegistryDynamics
from synthetic.variants import DEFAULT_HAZARD

AT_RISK_TO_ISOLATED = -3.5
AT_RISK_RECOVERY = 0.12
ISOLATED_RECOVERY = 0.06
BURN_IN_MONTHS = 36


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class LatentLives:
    hardship: np.ndarray
    """bool (n, months): in financial hardship that month."""
    state: np.ndarray
    """int8 (n, months): IsolationState during the month."""
    p_onset: np.ndarray
    """float32 (n, months): probability of NONE → AT_RISK used that month."""
    p_positive_90d: np.ndarray
    """float32 (n, months): P(AT_RISK or ISOLATED in this month or the next two | state before)."""
    frailty: np.ndarray
    alone: np.ndarray
    """bool (n, months): lives alone that month (after any death or split)."""


def _alone_by_month(households: pd.DataFrame, dynamics: RegistryDynamics, n_months: int) -> np.ndarray:
    size = households["household_size"].to_numpy()
    shrinks = np.isin(dynamics.event_type, [2, 3]) & (dynamics.event_month >= 0)
    months = np.arange(n_months)[None, :]
    size_now = size[:, None] - (shrinks[:, None] & (months >= dynamics.event_month[:, None]))
    return size_now <= 1


def simulate_hardship(
    households: pd.DataFrame, dynamics: RegistryDynamics, n_months: int, rng: np.random.Generator
) -> np.ndarray:
    n = len(households)
    disadvantage = households["disadvantage"].to_numpy()
    age = (households["moved_in"].dt.year.max() - households["head_birth_year"]).to_numpy()
    base = -6.3 + 0.85 * disadvantage + 0.4 * ((age >= 40) & (age < 65))
    persistent = 0.9
    stationary = _sigmoid(base) / (_sigmoid(base) + 1 - persistent)
    hardship = np.zeros((n, n_months), dtype=bool)
    current = rng.random(n) < stationary
    for month in range(n_months):
        dropped = dynamics.event_before("dropped", month, within=6)
        onset = _sigmoid(base + 1.5 * dropped)
        current = np.where(current, rng.random(n) < persistent, rng.random(n) < onset)
        hardship[:, month] = current
    return hardship


def onset_logit(
    households: pd.DataFrame,
    dynamics: RegistryDynamics,
    hardship: np.ndarray,
    alone: np.ndarray,
    frailty: np.ndarray,
    month: int,
    hazard: dict[str, float] = DEFAULT_HAZARD,
) -> np.ndarray:
    """The NONE → AT_RISK log-odds in one month (the nonlinear heart of the synthetic truth).

    `hazard` holds the coefficients (variants.DEFAULT_HAZARD; a city variant may reshape them)."""
    h = hazard
    age = (households["moved_in"].dt.year.max() - households["head_birth_year"]).to_numpy() + month / 12
    male = households["head_sex"].to_numpy() == "M"
    housing = households["housing_type"].to_numpy()
    vulnerable = np.isin(housing, ["gosiwon", "semi_basement"])
    small_rented = np.isin(housing, ["gosiwon", "semi_basement", "officetel"])
    recipient = households["livelihood_status"].to_numpy() == "recipient"
    disability = households["disability"].to_numpy()
    lone = alone[:, month]
    hard = hardship[:, month]
    dropped = dynamics.event_before("dropped", month)
    bereaved = dynamics.event_before("head_death", month)
    split = dynamics.event_before("split", month)
    return (
        h["intercept"]
        + h["alone"] * lone
        + h["age_hump"] * np.exp(-(((age - h["age_hump_centre"]) / h["age_hump_width"]) ** 2))
        + h["male"] * male
        + h["alone_male_50_69"] * (lone & male & (age >= 50) & (age < 70))
        + h["vulnerable_housing"] * vulnerable
        + h["recipient"] * recipient
        + h["hardship"] * hard
        + h["dropped"] * dropped
        + h["dropped_and_hardship"] * (dropped & hard)
        + h["bereaved"] * bereaved
        + h["split"] * split
        + h["young_alone_small_rented"] * ((age < 35) & lone & small_rented)
        + h["alone_80_plus"] * (lone & (age >= 80))
        + h["disability"] * disability
        + h["hardship_with_others"] * (hard & ~lone)
        + h["hardship_working_age"] * (hard & (age >= 25) & (age < 62))
        + h["disability_over_65"] * (disability & (age >= 65))
        + frailty
    )


def simulate_isolation(
    households: pd.DataFrame,
    dynamics: RegistryDynamics,
    hardship: np.ndarray,
    rng: np.random.Generator,
    hazard: dict[str, float] = DEFAULT_HAZARD,
) -> LatentLives:
    n, n_months = hardship.shape
    frailty = rng.normal(0.0, hazard["frailty_sd"], n)
    alone = _alone_by_month(households, dynamics, n_months)
    p_onset = (
        np.column_stack(
            [
                _sigmoid(onset_logit(households, dynamics, hardship, alone, frailty, m, hazard))
                for m in range(n_months)
            ]
        )
        if n
        else np.zeros((0, n_months))
    )
    p_worsen = _sigmoid(AT_RISK_TO_ISOLATED + 0.6 * alone + 0.5 * hardship + 0.3 * frailty[:, None])
    p_iso_recover = ISOLATED_RECOVERY * (1 - 0.3 * alone)

    def step(state: np.ndarray, m: int, draw: np.ndarray) -> np.ndarray:
        onset = draw < p_onset[:, m]
        worsen = draw < p_worsen[:, m]
        from_at_risk = np.where(worsen, 2, np.where(draw > 1 - AT_RISK_RECOVERY, 0, 1))
        from_isolated = np.where(draw < p_iso_recover[:, m], 1, 2)
        return np.select(
            [state == 0, state == 1], [onset.astype(np.int8), from_at_risk], from_isolated
        ).astype(np.int8)

    state = np.zeros(n, dtype=np.int8)
    for _ in range(BURN_IN_MONTHS):
        state = step(state, 0, rng.random(n))
    before = state
    states = np.zeros((n, n_months), dtype=np.int8)
    for m in range(n_months):
        state = step(state, m, rng.random(n))
        states[:, m] = state
    previous = np.column_stack([before, states[:, :-1]]) if n_months > 1 else before[:, None]
    stay_none = 1 - np.column_stack([p_onset, p_onset[:, [-1]], p_onset[:, [-1]]])
    none_run = stay_none[:, :n_months] * stay_none[:, 1 : n_months + 1] * stay_none[:, 2 : n_months + 2]
    later_none = stay_none[:, 1 : n_months + 1] * stay_none[:, 2 : n_months + 2]
    p_positive = np.select(
        [previous == IsolationState.NONE, previous == IsolationState.AT_RISK],
        [1 - none_run, 1 - AT_RISK_RECOVERY * later_none],
        1.0,
    )
    return LatentLives(
        hardship=hardship,
        state=states,
        p_onset=p_onset.astype(np.float32),
        p_positive_90d=p_positive.astype(np.float32),
        frailty=frailty,
        alone=alone,
    )
