"""How a city's outreach capacity becomes the lists teams visit.

Outreach is done by district teams, each visiting the top of its own district's list. How the
city's capacity is split between districts decides who can be reached at all: with one city-wide
top 1 %, a district whose troubled households score a little lower than elsewhere gets almost no
visits (even the best possible ranking leaves whole districts at half the city's recall on the
synthetic cities; experiments/fairness.md). Splitting capacity in proportion to each district's
expected need — the sum of its households' calibrated risk, which is what the score is for —
lets every district reach about the same share of its troubled households, at no cost in
precision. A ranking without probabilities (today's rule) splits by households instead.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from training.metrics import top_k_mask

Allocation = Literal["need", "city"]
"""`need`: each district gets a share of the capacity in proportion to its expected need and
visits its own top. `city`: one list, the top of the whole city."""


def district_quotas(district: np.ndarray, need: np.ndarray, capacity: int) -> pd.Series:
    """Households each district visits: `capacity` split in proportion to the districts' summed
    need by largest remainders, so the quotas add up to the capacity exactly."""
    total = pd.Series(np.asarray(need, dtype=float)).groupby(np.asarray(district)).sum()
    if total.sum() <= 0:
        total = pd.Series(1.0, index=total.index)
    exact = total / total.sum() * capacity
    quota = np.floor(exact).astype(int)
    left = capacity - int(quota.sum())
    if left > 0:
        order = (exact - quota).sort_values(ascending=False, kind="stable").index[:left]
        quota[order] += 1
    return quota


def capacity_list(
    score: np.ndarray,
    district: np.ndarray,
    capacity: int,
    allocation: Allocation = "need",
    need: np.ndarray | None = None,
) -> np.ndarray:
    """Which households are on the lists at this capacity (a boolean mask in row order).

    `need` is the ranking's expected number of positives per household (its calibrated risk);
    None means the ranking has no probabilities and districts share capacity by households."""
    score = np.asarray(score, dtype=float)
    if allocation == "city":
        return top_k_mask(score, capacity)
    district = np.asarray(district)
    weights = np.ones(len(score)) if need is None else np.asarray(need, dtype=float)
    quotas = district_quotas(district, weights, capacity)
    selected = np.zeros(len(score), dtype=bool)
    codes, names = pd.factorize(district)
    rows_of = pd.Series(np.arange(len(score))).groupby(codes).indices
    for code, name in enumerate(names):
        rows = rows_of.get(code, np.zeros(0, dtype=int))
        take = int(quotas.get(name, 0))
        if take and len(rows):
            selected[rows[top_k_mask(score[rows], min(take, len(rows)))]] = True
    return selected
