"""Reading a synthetic city's `_truth/`: what evaluation compares its estimates with.

Only evaluation reads this, and only for a synthetic city; training and serving never do. Three
answers per household for a round dated D (the 90 days after D are the next three months):

- `true_positive`: the household really was at risk or isolated in one of those months;
- `best_possible`: the generator's own probability of that, given the hidden state before the
  window (the ranking no model of the delivered data can beat);
- `census_found`: what one visit would record, in expectation, had a team visited every household
  when the round's survey visits happened: the contract's target as a visit to everyone would
  measure it. Survey-based estimates are checked against this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from anbu.data_folder import DataFolder

LABEL_WINDOW_MONTHS = 3


def has_truth(data_dir: Path) -> bool:
    return (DataFolder(data_dir).truth / "monthly_state.parquet").is_file()


def window_months(round_date: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(
        pd.Timestamp(round_date) + pd.Timedelta(days=1), periods=LABEL_WINDOW_MONTHS, freq="MS"
    )


def round_truth(
    data_dir: Path, round_date: pd.Timestamp, survey_visit_days: pd.Series | None = None
) -> pd.DataFrame | None:
    """One row per household of the truth for the round's window, indexed by household_id.

    `survey_visit_days`: the days the round's survey visits happened; `census_found` weights each
    month of the window by the share of those visits made in it (evenly when there are none).
    Returns None for a city without `_truth/` (every real city).
    """
    path = DataFolder(data_dir).truth / "monthly_state.parquet"
    if not path.is_file():
        return None
    months = window_months(round_date)
    # Cities generated before visit findings were written to the truth have no census figures.
    census = "p_visit_positive" in pq.read_schema(path).names
    truth = pq.read_table(
        path,
        columns=[
            "household_id",
            "month",
            "state",
            "p_positive_90d",
            *(["p_visit_positive"] if census else []),
        ],
        filters=[("month", "in", [m.date() for m in months])],
    ).to_pandas(date_as_object=False)
    truth["month"] = pd.to_datetime(truth["month"]).astype("datetime64[us]")
    return window_truth(truth, months, survey_visit_days)


def window_truth(
    truth: pd.DataFrame, months: pd.DatetimeIndex, survey_visit_days: pd.Series | None = None
) -> pd.DataFrame:
    """The round's truth from the window's monthly rows (household_id, month, state,
    p_positive_90d and, for a census, p_visit_positive) of every registered household."""
    census = "p_visit_positive" in truth
    grouped = truth.groupby("household_id")
    first = truth[truth["month"] == months[0]].set_index("household_id")["p_positive_90d"]
    result = pd.DataFrame(
        {"true_positive": grouped["state"].max().ge(1).astype(int), "best_possible": first.astype(float)}
    )
    if census:
        truth["weight"] = truth["month"].map(_month_weights(months, survey_visit_days)).astype(float)
        truth["weighted_found"] = truth["weight"] * truth["p_visit_positive"].astype(float)
        weight = truth.groupby("household_id")["weight"].sum()
        found = truth.groupby("household_id")["weighted_found"].sum()
        result["census_found"] = (found / weight.where(weight > 0)).astype(float)
    return result


def _month_weights(months: pd.DatetimeIndex, days: pd.Series | None) -> dict[pd.Timestamp, float]:
    if days is None or len(days) == 0:
        return {m: 1.0 / len(months) for m in months}
    started = pd.to_datetime(pd.Series(days)).dt.to_period("M").dt.to_timestamp()
    counts = started.value_counts()
    total = float(counts.reindex(months, fill_value=0).sum())
    if total == 0:
        return {m: 1.0 / len(months) for m in months}
    return {m: float(counts.get(m, 0)) / total for m in months}


def census_found_for(truth: pd.DataFrame | None, household_ids: pd.Series) -> np.ndarray | None:
    """`census_found` in the order of `household_ids`, or None without a census in the truth.

    NaN for a household no longer registered when the survey visited (moved away or died): the
    survey cannot visit it either, so it is outside what the survey estimates (about 0.4 % of a
    round)."""
    if truth is None or "census_found" not in truth:
        return None
    return household_ids.map(truth["census_found"]).to_numpy(dtype=float)
