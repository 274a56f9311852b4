"""How well a ranking finds the households nobody has found yet: the discovery population.

Outreach visits the households it has found anyway, so a list is judged where it matters: on
the households not known as of the round (no visit in the window before it found isolation or
risk; training/framing.py: not_yet_known), each ranking's list drawn from them
alone at the team's whole capacity, as the discovery list is (serving/lists/ranking.py). On the
synthetic city against the truth; everywhere on the survey visits among those households.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.estimates import share_estimate
from training.figures import (
    DISCOVERY_KNOWN_HOUSEHOLDS,
    DISCOVERY_KNOWN_SHARE,
    DISCOVERY_KNOWN_WINDOW_DAYS,
    Figure,
    TestRoundFigures,
)
from training.framing import not_yet_known
from training.metrics import capacity_count
from training.survey import SurveySample


def discovery_lists(ranked: dict, pool: np.ndarray, share: float, households: int) -> dict[str, np.ndarray]:
    """Each ranking's list drawn from the pool alone, at the capacity of the whole round."""
    capacity = min(capacity_count(households, share), int(pool.sum()))
    lists = {}
    for name, ranking in ranked.items():
        member = np.zeros(len(pool), dtype=bool)
        if capacity > 0:
            member[pool] = ranking.subset(pool).list_of(capacity)
        lists[name] = member
    return lists


def discovery_figures(
    test: pd.DataFrame,
    ranked: dict,
    share: float,
    sample: SurveySample | None,
    true_positive: np.ndarray | None,
    known_window_days: int,
) -> TestRoundFigures:
    """Precision and recall at capacity of each ranking's discovery list (truth and survey), and
    the model's lift over today's rule on the same not-yet-known households."""
    pool = not_yet_known(test, known_window_days)
    lists = discovery_lists(ranked, pool, share, len(test))
    figures = TestRoundFigures()
    figures.counted(DISCOVERY_KNOWN_HOUSEHOLDS, (~pool).sum())
    figures.counted(DISCOVERY_KNOWN_SHARE, (~pool).mean() if len(pool) else 0.0)
    figures.counted(DISCOVERY_KNOWN_WINDOW_DAYS, known_window_days)
    for name, member in lists.items():
        if true_positive is not None:
            judged = ~np.isnan(true_positive)
            y = np.nan_to_num(true_positive)
            listed = member & judged
            positives = (y * (pool & judged)).sum()
            figures.measured(
                Figure(name, "truth", "discovery_precision_at_capacity"),
                y[listed].mean() if listed.any() else float("nan"),
            )
            figures.measured(
                Figure(name, "truth", "discovery_recall_at_capacity"),
                y[listed].sum() / positives if positives else float("nan"),
            )
        if sample is not None and sample.households:
            inside = pool[sample.positions]
            found, weight = sample.found[inside], sample.weight[inside]
            on_list = member[sample.positions][inside]
            figures.estimated(
                Figure(name, "survey", "discovery_precision_at_capacity"),
                share_estimate(found, weight, on_list).quoted(),
            )
            figures.estimated(
                Figure(name, "survey", "discovery_recall_at_capacity"),
                share_estimate(on_list.astype(float), weight * found, found > 0).quoted(),
            )
    for source in ("truth", "survey"):
        model = figures.value(Figure("model", source, "discovery_precision_at_capacity"))
        rule = figures.value(Figure("rule", source, "discovery_precision_at_capacity"))
        # No lift where the rule's list found nobody (a survey list of a handful of households).
        if model is not None and rule is not None and np.isfinite(model) and rule > 0:
            figures.measured(Figure("model", source, "discovery_lift_over_rule"), model / rule)
    return figures
