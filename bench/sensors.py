"""Benchmark: anbu's sensor features against today's alert rules, on realistic synthetic meters.

    uv run python bench/sensors.py                          # 200,000 households, seed 1
    uv run python bench/sensors.py --households 50000 --seeds 1 2

For each city (default variant: realistic meters; plus `flat_meters`, the earlier meters, for the
signal table) every enrolled household is measured at weekly rounds over the delivery, in one run:

- the fixed no-change rule (an alert after 24 or 48 hours without power change of 2 W: today's
  smart plug), computed with the features anbu had before (bench/legacy_sensor_features.py);
- a KEPCO-like drop rule: a day whose mean power is below half of the household's mean over its
  previous 60 days (KEPCO adds calls and texts, which the contract does not deliver);
- anbu's features as a simple per-household alert (two fixed thresholds, written below, in the
  household's own units): withdrawal-like when the week sits a spread below its usual week,
  away-like when two or more whole days sit at its standby level (flagged apart, not alerted);
- anbu's features as model inputs: LightGBM on the household-weeks, scored out of fold (five
  folds by household), alerting at the rate of the fixed 48-hour rule on ordinary weeks.

From `_truth/` (never read by the product): ordinary household-weeks (a household that is fine:
state NONE in the round's and the previous month; its absences and device faults included, as an
alert on them is a false alarm), withdrawal onsets (a change from NONE, when devices
begin to show it), and absences (holiday, trip, hospital stay) covering at least three days of a
round's week. Printed: alerts per 1,000 ordinary household-weeks, share of onsets alerted within
14 days, share of absences flagged as away (rather than as withdrawal), and how well each
feature separates absence and withdrawal weeks from ordinary ones (ROC AUC).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.cities import city  # noqa: E402
from bench.legacy_sensor_features import legacy_sensor_query  # noqa: E402
from features.families.sensors import POWER_FEATURES  # noqa: E402

WITHDRAWAL_DEVIATION = 1.0
"""Simple alert: the week's hours on average one of the household's own spreads below the same
hours of its usual week (and the week not away-like)."""
AWAY_DAYS = 2
"""Simple alert: two or more whole days at the household's standby level is away-like."""
DETECTION_DAYS = 14
MIN_ABSENCE_DAYS = 3
NEW_FEATURES = (*POWER_FEATURES, "sensor_offline_hours_7d")
LEGACY_FEATURES = (
    "sensor_inactive_share_7d",
    "sensor_inactive_change",
    "sensor_longest_flat_hours_7d",
    "sensor_day_night_change",
)
"""The power features anbu had before (bench/legacy_sensor_features.py)."""


@dataclass(frozen=True)
class Weeks:
    """One row per (power-metered household, weekly round): features, rules and truth."""

    table: pd.DataFrame
    onsets: pd.DataFrame
    absences: pd.DataFrame


def _kepco_days(con) -> pd.DataFrame:
    """Days on which the KEPCO-like rule fires, per household."""
    return con.execute(
        """
        WITH daily AS (
            SELECT household_id, date_trunc('day', ts) AS day, avg(value) AS watts, count(*) AS hours
            FROM sensor_readings WHERE channel = 'power_w' AND value > 0
            GROUP BY household_id, day HAVING count(*) >= 12
        ),
        judged AS (
            SELECT household_id, day, watts,
                   avg(watts) OVER w AS usual, count(*) OVER w AS seen
            FROM daily
            WINDOW w AS (PARTITION BY household_id ORDER BY day
                         RANGE BETWEEN INTERVAL 60 DAY PRECEDING AND INTERVAL 1 DAY PRECEDING)
        )
        SELECT household_id, day FROM judged WHERE seen >= 30 AND watts < 0.5 * usual
        """
    ).df()


def measure_weeks(data: Path) -> Weeks:
    from features.delivery_views import connect
    from features.families.sensors import sensor_query

    validated = DataFolder(data).validated
    con = connect(validated)
    con.execute("CREATE TABLE readings_in_memory AS SELECT * FROM sensor_readings")
    con.execute("CREATE OR REPLACE VIEW sensor_readings AS SELECT * FROM readings_in_memory")
    enrolments = pd.read_parquet(validated / "sensor_enrollments.parquet")
    metered = set(enrolments.loc[enrolments["service"].isin(["ami", "smart_plug"]), "household_id"])
    span = con.execute("SELECT min(ts), max(ts) FROM sensor_readings").fetchone()
    first = pd.Timestamp(span[0]).normalize() + pd.Timedelta(days=70)
    rounds = pd.date_range(first, pd.Timestamp(span[1]).normalize() - pd.Timedelta(days=1), freq="7D")
    kepco = _kepco_days(con)
    frames = []
    for as_of in rounds:
        query, params = sensor_query(as_of)
        new = con.execute(query, params).df().set_index("household_id")
        query, params = legacy_sensor_query(as_of)
        old = con.execute(query, params).df().set_index("household_id")
        week = new[list(NEW_FEATURES)].join(old[list(LEGACY_FEATURES)], how="left")
        week = week[week.index.isin(metered) & week["sensor_standby_share_7d"].notna()]
        window = kepco[(kepco["day"] > as_of - pd.Timedelta(days=7)) & (kepco["day"] <= as_of)]
        week["kepco_rule"] = week.index.isin(window["household_id"])
        frames.append(week.reset_index().assign(as_of=as_of))
    table = pd.concat(frames, ignore_index=True)
    episodes = pd.read_parquet(DataFolder(data).truth / "sensor_episodes.parquet")
    state = pd.read_parquet(
        DataFolder(data).truth / "monthly_state.parquet", columns=["household_id", "month", "state"]
    )
    return Weeks(_label(table, episodes, state), *_episodes(episodes, table))


def _label(table: pd.DataFrame, episodes: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    month = table["as_of"].dt.to_period("M").dt.to_timestamp()
    states = state.set_index(["household_id", "month"])["state"]
    now = states.reindex(pd.MultiIndex.from_arrays([table["household_id"], month])).to_numpy()
    before = states.reindex(
        pd.MultiIndex.from_arrays([table["household_id"], month - pd.DateOffset(months=1)])
    ).to_numpy()
    away = episodes[episodes["kind"] != "withdrawal"]
    merged = table[["household_id", "as_of"]].reset_index().merge(away, on="household_id")
    start = merged["as_of"] - pd.Timedelta(days=7) + pd.Timedelta(days=1)
    overlap = (
        np.minimum(merged["end"], merged["as_of"] + pd.Timedelta(days=1)) - np.maximum(merged["start"], start)
    ).dt.days
    away_days = merged.assign(days=overlap.clip(lower=0)).groupby("index")["days"].sum()
    table["away_days"] = away_days.reindex(table.index).fillna(0).to_numpy()
    # Ordinary: a household that is fine (state NONE this month and the last). Its absences and
    # device faults are part of ordinary life, and an alert on them is a false alarm.
    table["ordinary"] = (now == 0) & (before == 0)
    table["fixed_24h"] = table["sensor_longest_flat_hours_7d"] >= 24
    table["fixed_48h"] = table["sensor_longest_flat_hours_7d"] >= 48
    table["away_like"] = table["sensor_standby_days_7d"] >= AWAY_DAYS
    table["withdrawal_like"] = (table["sensor_power_deviation_7d"] >= WITHDRAWAL_DEVIATION) & ~table[
        "away_like"
    ]
    table["anbu_alert"] = table["withdrawal_like"]
    return table


def _episodes(episodes: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Withdrawal onsets and absences that the weekly rounds could see (a round within reach)."""
    seen = table[["household_id", "as_of"]]
    onsets = episodes[episodes["kind"] == "withdrawal"].merge(seen, on="household_id")
    onsets = onsets[
        (onsets["as_of"] > onsets["start"])
        & (onsets["as_of"] <= onsets["start"] + pd.Timedelta(days=DETECTION_DAYS))
    ]
    absences = episodes[episodes["kind"] != "withdrawal"].merge(seen, on="household_id")
    start = absences["as_of"] - pd.Timedelta(days=6)
    covered = (
        np.minimum(absences["end"], absences["as_of"] + pd.Timedelta(days=1))
        - np.maximum(absences["start"], start)
    ).dt.days
    absences = absences[covered >= MIN_ABSENCE_DAYS]
    return onsets[["household_id", "start", "as_of"]], absences[["household_id", "start", "kind", "as_of"]]


def _model_scores(table: pd.DataFrame, onsets: pd.DataFrame) -> np.ndarray:
    """Out-of-fold LightGBM scores of every household-week for 'withdrawal has begun' (the weeks
    up to 28 days after an onset) against ordinary weeks; five folds by household."""
    import lightgbm as lgb
    from sklearn.model_selection import GroupKFold

    starts = onsets[["household_id", "start"]].drop_duplicates()
    weeks = table[["household_id", "as_of"]].reset_index().merge(starts, on="household_id")
    ramp = weeks[
        (weeks["as_of"] > weeks["start"]) & (weeks["as_of"] <= weeks["start"] + pd.Timedelta(days=28))
    ]
    positive = pd.Series(table.index.isin(ramp["index"].unique()), index=table.index)
    label = positive.to_numpy()
    usable = label | table["ordinary"].to_numpy()
    features = table[list(NEW_FEATURES)].to_numpy(dtype=float)
    scores = np.full(len(table), np.nan)
    groups = table["household_id"].to_numpy()
    for train, test in GroupKFold(n_splits=5).split(features, label, groups):
        fit = train[usable[train]]
        model = lgb.LGBMClassifier(
            n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=50, verbose=-1
        )
        model.fit(features[fit], label[fit])
        scores[test] = model.predict_proba(features[test])[:, 1]
    return scores


def _separation(values: pd.Series, positive: pd.Series, ordinary: pd.Series) -> float:
    """ROC AUC of one feature for these weeks against ordinary ones, in whichever direction
    separates them (a feature that falls is as useful as one that rises)."""
    from sklearn.metrics import roc_auc_score

    keep = (positive | ordinary) & values.notna()
    if positive[keep].nunique() < 2:
        return float("nan")
    auc = float(roc_auc_score(positive[keep], values[keep]))
    return max(auc, 1 - auc)


def report(weeks: Weeks, name: str) -> list[str]:
    table, onsets, absences = weeks.table, weeks.onsets, weeks.absences
    table["model_score"] = _model_scores(table, onsets)
    ordinary = table["ordinary"]
    fixed_rate = table.loc[ordinary, "fixed_48h"].mean()
    for column, rate in (("model_alert", fixed_rate), ("model_alert_half", fixed_rate / 2)):
        threshold = np.quantile(table.loc[ordinary, "model_score"], 1 - rate)
        table[column] = table["model_score"] > threshold
    indexed = table.set_index(["household_id", "as_of"])
    lines = [
        f"### {name}: {table['household_id'].nunique():,} power-metered households, {len(table):,} household-weeks "
        f"({int(ordinary.sum()):,} ordinary), {onsets[['household_id', 'start']].drop_duplicates().shape[0]} withdrawal onsets, "
        f"{absences[['household_id', 'start']].drop_duplicates().shape[0]} absences of {MIN_ABSENCE_DAYS}+ days in a round's week",
        "",
        "| alert | per 1,000 ordinary household-weeks | withdrawal onsets alerted within 14 days | absences alerted | absences flagged as away |",
        "|---|---:|---:|---:|---:|",
    ]
    rules = (
        ("fixed rule, 24 h without 2 W change", "fixed_24h", None),
        ("fixed rule, 48 h without 2 W change", "fixed_48h", None),
        ("KEPCO-like drop (a day below half its 60-day mean)", "kepco_rule", None),
        (
            "anbu features, simple alert (withdrawal-like; away-like weeks flagged apart)",
            "anbu_alert",
            "away_like",
        ),
        ("anbu features as model inputs, at the 48 h rule's alert rate", "model_alert", None),
        ("anbu features as model inputs, at half that rate", "model_alert_half", None),
    )
    for label, column, away_column in rules:
        alerts = indexed[column]
        rate = 1000 * table.loc[ordinary, column].mean()
        onset_hit = (
            onsets.assign(
                hit=alerts.reindex(pd.MultiIndex.from_frame(onsets[["household_id", "as_of"]])).to_numpy()
            )
            .groupby(["household_id", "start"])["hit"]
            .any()
        )
        keys = pd.MultiIndex.from_frame(absences[["household_id", "as_of"]])
        absence = absences.assign(hit=alerts.reindex(keys).to_numpy())
        if away_column:
            absence["away"] = indexed[away_column].reindex(keys).to_numpy()
        by_absence = absence.groupby(["household_id", "start"])
        alerted = by_absence["hit"].any().mean()
        away = f"{by_absence['away'].any().mean():.0%}" if away_column else "– (cannot tell)"
        lines.append(
            f"| {label} | {rate:.1f} | {onset_hit.mean():.0%} ({int(onset_hit.sum())}) | {alerted:.0%} | {away} |"
        )
    lines += [
        "",
        "| feature | AUC, absence weeks vs ordinary weeks at home | AUC, weeks within 14 days of a withdrawal onset vs the same |",
        "|---|---:|---:|",
    ]
    absence_weeks = table["away_days"] >= MIN_ABSENCE_DAYS
    onset_weeks = pd.Series(
        pd.MultiIndex.from_frame(table[["household_id", "as_of"]]).isin(
            pd.MultiIndex.from_frame(onsets[["household_id", "as_of"]])
        ),
        index=table.index,
    )
    for feature in (*NEW_FEATURES, *LEGACY_FEATURES):
        if feature not in table:
            continue
        values = table[feature]
        lines.append(
            f"| `{feature}`{' (before)' if feature in LEGACY_FEATURES else ''} | "
            f"{_separation(values, absence_weeks, ordinary & ~absence_weeks):.3f} | "
            f"{_separation(values, onset_weeks, ordinary & ~absence_weeks):.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--variants", nargs="+", default=["default", "flat_meters"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "sensors")
    arguments = parser.parse_args()
    arguments.work.mkdir(parents=True, exist_ok=True)
    for variant in arguments.variants:
        for seed in arguments.seeds:
            data = city(arguments.work, variant, seed, arguments.households)
            print("\n".join(report(measure_weeks(data), f"{variant} seed {seed}")), flush=True)
            print()


if __name__ == "__main__":
    main()
