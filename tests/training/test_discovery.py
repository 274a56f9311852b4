"""The discovery figures: lists drawn from the households nobody had found, judged among them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.discovery import discovery_figures
from training.evaluation import Ranking
from training.framing import not_yet_known


def _round(found: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(len(found))],
            "round_date": pd.Timestamp("2026-07-31"),
            "gu": "관악구",
            "last_finding_on": pd.to_datetime(pd.Series(found)),
        }
    )


def test_a_household_is_known_only_for_a_finding_inside_the_window_and_not_after_the_round() -> None:
    table = _round(["2026-05-01", "2025-05-01", None, "2026-08-15"])
    assert not_yet_known(table, window_days=365).tolist() == [False, True, True, True]
    assert not_yet_known(table, window_days=30).tolist() == [True, True, True, True]


def test_the_discovery_list_skips_known_households_and_is_judged_among_the_rest() -> None:
    # H0 and H1 were found this year (known) and are positive again; H2..H9 not yet known.
    table = _round(["2026-05-01", "2026-06-01", *[None] * 8])
    truth = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    district = table["gu"].to_numpy()
    model = Ranking(np.linspace(0.9, 0.1, 10), district, "city", True)  # H0 > H1 > … > H9
    rule = Ranking(np.arange(10, dtype=float), district, "city", False)  # H9 > H8 > …
    metrics = discovery_figures(table, {"model": model, "rule": rule}, 0.2, None, truth, 365).metrics()
    # capacity 2 of 10: the model lists H2, H3 (one positive); the rule H9, H8 (none)
    assert metrics["model_truth_discovery_precision_at_capacity"] == 0.5
    assert metrics["model_truth_discovery_recall_at_capacity"] == 0.5  # H2 of {H2, H4}
    assert metrics["rule_truth_discovery_precision_at_capacity"] == 0.0
    assert metrics["discovery_known_households"] == 2.0
    assert "model_truth_discovery_lift_over_rule" not in metrics  # the rule found none: no ratio
