"""How the registry changes during the period: arrivals, one life event, departures.

Each household has at most one life event in the period (a livelihood change, a death of the head,
a split, a move) and may leave Seoul or die. That keeps the effective-dated rows simple (at most
three periods) while giving the features every kind of change the contract allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NO_EVENT = -1
EVENT_TYPES = ("dropped", "applied", "head_death", "split", "move")
NEW_HOUSEHOLD_SHARE = 0.05
"""Households that register in Seoul during the period (valid_from inside it)."""


@dataclass(frozen=True)
class RegistryDynamics:
    entry_month: np.ndarray
    """Month index the household appears (0: already registered at the start)."""
    event_month: np.ndarray
    """Month index of the household's life event, or NO_EVENT."""
    event_type: np.ndarray
    """Index into EVENT_TYPES (meaningless where event_month is NO_EVENT)."""
    exit_month: np.ndarray
    """Month index the household leaves the registry, or NO_EVENT."""

    def event_before(self, kind: str, month: int, within: int = 12) -> np.ndarray:
        """Households whose `kind` event happened in the `within` months up to `month`."""
        code = EVENT_TYPES.index(kind)
        return (
            (self.event_type == code)
            & (self.event_month >= 0)
            & (self.event_month <= month)
            & (self.event_month > month - within)
        )


def monthly_mortality(age: np.ndarray) -> np.ndarray:
    """Approximate monthly death probability by age (Korean life tables, rounded)."""
    annual = 0.0004 * np.exp(0.085 * np.maximum(age - 30, 0))
    return np.clip(annual, 0, 0.3) / 12


def simulate_registry(households: pd.DataFrame, n_months: int, rng: np.random.Generator) -> RegistryDynamics:
    n = len(households)
    age = (households["moved_in"].dt.year.max() - households["head_birth_year"]).to_numpy()
    alone = households["household_size"].to_numpy() == 1
    status = households["livelihood_status"].to_numpy()
    disadvantage = households["disadvantage"].to_numpy()

    entry = np.where(rng.random(n) < NEW_HOUSEHOLD_SHARE, rng.integers(1, n_months, n), 0)
    hazards = np.column_stack(
        [
            np.where(status == "recipient", 0.006, 0.0),
            np.where(status == "none", 0.0015 * (disadvantage > 1.2), 0.0),
            np.where(~alone, monthly_mortality(age), 0.0),
            np.where(~alone, 0.0012, 0.0),
            np.full(n, 0.006),
        ]
    )
    total = hazards.sum(axis=1)
    event_month = np.full(n, NO_EVENT)
    for month in range(n_months):
        happens = (event_month == NO_EVENT) & (month > entry) & (rng.random(n) < total)
        event_month[happens] = month
    event_type = ((rng.random((n, 1)) * total[:, None]) > np.cumsum(hazards, axis=1)).sum(axis=1)
    exit_month = np.full(n, NO_EVENT)
    return RegistryDynamics(entry, event_month, np.minimum(event_type, len(EVENT_TYPES) - 1), exit_month)


def draw_exits(
    dynamics: RegistryDynamics, households: pd.DataFrame, isolated_share: np.ndarray, rng: np.random.Generator
) -> RegistryDynamics:
    """Departures: moving out of Seoul, and deaths of people living alone (more often if isolated)."""
    n = len(households)
    age = (households["moved_in"].dt.year.max() - households["head_birth_year"]).to_numpy()
    alone = households["household_size"].to_numpy() == 1
    alone_after = alone | (
        (dynamics.event_type == EVENT_TYPES.index("head_death"))
        & (households["household_size"].to_numpy() == 2)
    )
    n_months = isolated_share.shape[1]
    exit_month = np.full(n, NO_EVENT)
    for month in range(n_months):
        lone = np.where(
            dynamics.event_month >= 0, np.where(month >= dynamics.event_month, alone_after, alone), alone
        )
        hazard = 0.0018 + lone * monthly_mortality(age) * (1 + 1.5 * isolated_share[:, month])
        earliest = np.maximum(dynamics.entry_month, dynamics.event_month) + 1
        leaves = (exit_month == NO_EVENT) & (month >= earliest) & (rng.random(n) < hazard)
        exit_month[leaves] = month
    return RegistryDynamics(dynamics.entry_month, dynamics.event_month, dynamics.event_type, exit_month)


def registry_rows(
    households: pd.DataFrame, dynamics: RegistryDynamics, months: pd.DatetimeIndex, rng: np.random.Generator
) -> pd.DataFrame:
    """The effective-dated rows of households.parquet for these households."""
    start_day = rng.integers(0, 28, len(households))

    def day_in(month_index: np.ndarray) -> pd.Series:
        return pd.Series(months[np.clip(month_index, 0, len(months) - 1)]) + pd.to_timedelta(
            start_day, unit="D"
        )

    first = households.drop(columns=["disadvantage"]).copy()
    entry = dynamics.entry_month
    first["valid_from"] = np.where(entry > 0, day_in(entry), first["moved_in"])
    first["valid_from"] = pd.to_datetime(first["valid_from"]).dt.normalize()
    first.loc[entry > 0, "moved_in"] = first.loc[entry > 0, "valid_from"]
    has_event = dynamics.event_month >= 0
    event_day = day_in(dynamics.event_month).where(has_event)
    exit_day = day_in(dynamics.exit_month).where(dynamics.exit_month >= 0)
    # An exit in the same month as the event (or the arrival) falls after it.
    exit_day = exit_day.where(~(has_event & (exit_day <= event_day)), event_day + pd.Timedelta(days=1))
    exit_day = exit_day.where(~(exit_day <= first["valid_from"]), first["valid_from"] + pd.Timedelta(days=1))
    first["valid_to"] = np.where(has_event, event_day, exit_day)
    second = first[has_event].copy()
    second["valid_from"] = event_day[has_event].to_numpy()
    second["valid_to"] = exit_day[has_event].to_numpy()
    kind = np.array(EVENT_TYPES)[dynamics.event_type[has_event]]
    second.loc[kind == "dropped", "livelihood_status"] = "dropped"
    second.loc[kind == "applied", "livelihood_status"] = "applied"
    shrink = np.isin(kind, ["head_death", "split"]) & (second["household_size"].to_numpy() > 1)
    second.loc[shrink, "household_size"] = second.loc[shrink, "household_size"] - 1
    second.loc[kind == "head_death", "head_birth_year"] = second.loc[
        kind == "head_death", "head_birth_year"
    ] + rng.integers(-3, 4, (kind == "head_death").sum())
    moved = kind == "move"
    second.loc[moved, "moved_in"] = second.loc[moved, "valid_from"]
    rows = pd.concat([first, second], ignore_index=True)
    rows["valid_to"] = pd.to_datetime(rows["valid_to"])
    return rows.sort_values(["household_id", "valid_from"], ignore_index=True)
