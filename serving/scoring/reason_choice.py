"""Choosing every household's reasons in one compiled pass over its contributions.

The rules are those of serving/scoring/reasons.py (`choose`): a group's strength is the sum of its
features' contributions, kept when one of its features has a value that shows it and it is above
MIN_CONTRIBUTION; a history group is kept only when it carries HISTORY_SHARE of the k strongest;
the k strongest are shown, every other reason before any history reason; a group's sentence is
its largest contributor with a value to show. Written as whole-matrix numpy (a matrix product,
partitions, a sort, a loop of gathers per group) it cost Seoul's round 26 s of its 5 minutes at
500 trees × 63 leaves: one household at a time, everything stays in registers and cache.

Ties between groups of equal strength go to the group first in the plan's order, so a list never
depends on how a sort happened to order equal keys.
"""

from __future__ import annotations

import numba
import numpy as np

SHOWN_WHEN_KNOWN = 0
"""A feature whose known value shows its reason (`reason_when == "present"`)."""
SHOWN_WHEN_POSITIVE = 1
"""A feature whose reason shows only above zero (a count, an amount)."""

PARALLEL_FROM = 64
"""Households from which the choice runs on every core (below it, starting threads costs more)."""

MOST_PER_TASK = 4096
"""Households a parallel task takes at most (fewer when a batch would otherwise leave a core idle)."""


@numba.njit(cache=True, inline="always")
def _choose_household(contributions, values, household, plan, scratch, out):
    """One household's reasons into row `household` of `out` (group, column, value, strength)."""
    member_start, members, shown_when, history, any_history, min_contribution, history_share = plan
    strength, lead, top = scratch
    group_out, column_out, value_out, strength_out = out
    groups = len(member_start) - 1
    slots = len(top)
    for group in range(groups):
        total = 0.0
        shown = False
        best = -np.inf
        column = members[member_start[group]]
        for member in range(member_start[group], member_start[group + 1]):
            feature = members[member]
            contribution = contributions[household, feature]
            total += contribution
            value = values[household, feature]
            if not np.isnan(value) and (shown_when[feature] == SHOWN_WHEN_KNOWN or value > 0.0):
                shown = True
                if contribution > best:
                    best = contribution
                    column = feature
        strength[group] = total if shown and total > min_contribution else -np.inf
        lead[group] = column
    if any_history:
        # The share is of what would be shown: the k strongest reasons, not every small one.
        _strongest(strength, top)
        shown_total = 0.0
        for slot in range(slots):
            if top[slot] >= 0 and strength[top[slot]] > -np.inf:
                shown_total += strength[top[slot]]
        for group in range(groups):
            if history[group] and strength[group] < history_share * shown_total:
                strength[group] = -np.inf
    _strongest(strength, top)
    # Shown with every other reason before any history reason, each part strongest first.
    slot_out = 0
    for part in range(2):
        history_part = part == 1
        for slot in range(slots):
            group = top[slot]
            if group < 0 or strength[group] == -np.inf or history[group] != history_part:
                continue
            group_out[household, slot_out] = group
            column_out[household, slot_out] = lead[group]
            value_out[household, slot_out] = values[household, lead[group]]
            strength_out[household, slot_out] = strength[group]
            slot_out += 1
    for slot in range(slot_out, slots):
        group_out[household, slot] = -1
        column_out[household, slot] = -1
        value_out[household, slot] = np.nan
        strength_out[household, slot] = -np.inf


@numba.njit(cache=True, inline="always")
def _strongest(strength: np.ndarray, top: np.ndarray) -> None:
    """`top` ← the groups of the largest finite strengths, strongest first (-1 where there are
    fewer); of equal strengths the earlier group."""
    slots = len(top)
    top[:] = -1
    for group in range(len(strength)):
        if strength[group] == -np.inf:
            continue
        slot = slots
        while slot > 0 and (top[slot - 1] < 0 or strength[group] > strength[top[slot - 1]]):
            slot -= 1
        if slot == slots:
            continue
        for later in range(slots - 1, slot, -1):
            top[later] = top[later - 1]
        top[slot] = group


@numba.njit(cache=True, inline="always")
def _scratch(plan, slots):
    """Per-task working arrays: each group's strength and lead column, the slots' groups."""
    groups = len(plan[0]) - 1
    return np.empty(groups), np.empty(groups, dtype=np.int64), np.empty(slots, dtype=np.int64)


@numba.njit(cache=True)
def _choose_serially(contributions, values, plan, out):
    scratch = _scratch(plan, out[0].shape[1])
    for household in range(len(values)):
        _choose_household(contributions, values, household, plan, scratch, out)


@numba.njit(parallel=True, cache=True)
def _choose_in_parallel(contributions, values, plan, out, size):
    households = len(values)
    for task in numba.prange((households + size - 1) // size):
        scratch = _scratch(plan, out[0].shape[1])
        for household in range(task * size, min(households, (task + 1) * size)):
            _choose_household(contributions, values, household, plan, scratch, out)


def choose_reasons(
    contributions: np.ndarray,
    values: np.ndarray,
    member_start: np.ndarray,
    members: np.ndarray,
    shown_when: np.ndarray,
    history: np.ndarray,
    slots: int,
    min_contribution: float,
    history_share: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group, shown column, its value and strength per household and slot (households × slots);
    an empty slot has group and column -1, value NaN and strength -inf.

    Group g's features are `members[member_start[g]:member_start[g + 1]]`, in the model's order;
    `shown_when` says per feature when its value shows its reason."""
    households = len(values)
    out = (
        np.empty((households, slots), dtype=np.int64),
        np.empty((households, slots), dtype=np.int64),
        np.empty((households, slots), dtype=np.float64),
        np.empty((households, slots), dtype=np.float64),
    )
    plan = (
        member_start,
        members,
        shown_when,
        history,
        bool(history.any()),
        float(min_contribution),
        float(history_share),
    )
    if values.ndim != 2 or values.shape[1] != len(shown_when):
        raise ValueError(f"expected a matrix of {len(shown_when)} feature columns, got shape {values.shape}")
    if (
        contributions.ndim != 2
        or contributions.shape[0] != households
        or contributions.shape[1] < values.shape[1]
    ):
        raise ValueError(
            f"expected contributions for {households} households and {values.shape[1]} features, "
            f"got shape {contributions.shape}"
        )
    if households < PARALLEL_FROM:
        _choose_serially(contributions, values, plan, out)
    else:
        size = max(PARALLEL_FROM, min(MOST_PER_TASK, -(-households // numba.get_num_threads())))
        _choose_in_parallel(contributions, values, plan, out, size)
    return out
