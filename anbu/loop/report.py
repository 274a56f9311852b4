"""What a run of the loop found, judged against the city's truth (the judge, nothing else).

A household is *found* when a visit records it isolated or at risk while it truly is (the
contract's positive, SOURCES.md: Target); *found for the first time* when no visit had found it
so before, in the city's whole delivered history; *missed* when it is truly in need and no visit
has found it yet. Per round and cumulative:

- the list's visits, and the share of them that reached a household truly in need (precision at
  capacity, against the truth);
- households found for the first time, and the median days from the start of their spell of need
  to that visit (spells that began before the city's history are left out of the median), also for
  spells that began during the loop alone; and, over every spell that began in the round's months
  (found or not), how many a visit reached within FOLLOW_UP_DAYS of onset: a median over the
  found alone favours a policy that finds few, and those only when a crisis report is fresh;
- households in need after the round's visits that nobody has found;
- a retraining's own survey estimate of its precision (90 % interval) beside what a visit to every
  household would find on the same test round (the quantity it estimates) and the true state, and
  its calibration against the truth;
- at the end, each group's share of the households found against its share of those in need.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from anbu.loop.city import Judge
from anbu.loop.policies import VISIT_DAYS
from features.contract.vocabulary import POSITIVE_OUTCOMES

FOLLOW_UP_DAYS = 180
"""How soon counts as soon: a new spell found within this many days of its onset."""
GROUPINGS = {"gu": "district", "age_band": "age band", "head_sex": "sex", "housing_type_name": "housing type"}


def true_finds(visits: pd.DataFrame, judge: Judge) -> pd.DataFrame:
    """The visits that found a household truly in need, each with its first-time flag and onset."""
    days = pd.to_datetime(visits["visited_on"]).to_numpy().astype("datetime64[D]")
    ids = visits["household_id"].astype(str).to_numpy()
    state = judge.states(ids, days)
    found = visits.assign(visited_on=pd.to_datetime(visits["visited_on"]), _state=state)
    found = found[(found["_state"] >= 1) & found["outcome"].isin(POSITIVE_OUTCOMES)].sort_values("visited_on")
    found = found.assign(first_time=~found["household_id"].duplicated())
    onset = judge.onsets(
        found["household_id"].astype(str).to_numpy(), found["visited_on"].to_numpy().astype("datetime64[D]")
    )
    return found.assign(onset=pd.to_datetime(onset)).drop(columns="_state")


def _made_by(finds: pd.DataFrame, visits: pd.DataFrame) -> pd.Series:
    """Which of the finds are these visits (a find is one visit: household, day and trigger)."""
    key = ["household_id", "visited_on", "trigger"]
    theirs = visits.assign(visited_on=pd.to_datetime(visits["visited_on"])).set_index(key).index
    return pd.Series(finds.set_index(key).index.isin(theirs), index=finds.index)


def round_rows(records: list, loop_visits: pd.DataFrame, finds: pd.DataFrame, judge: Judge) -> pd.DataFrame:
    """One row per round: what the loop's visits of that round found, and the running totals.

    `finds`: true_finds of every visit the city delivered by the end (its own and the loop's), so
    a household the city's own sweeps or alerts had found already is not counted as new."""
    first = finds[finds["first_time"]]
    followed_until = pd.Timestamp(records[-1].round) + pd.Timedelta(days=VISIT_DAYS[1])
    rows = []
    for position, record in enumerate(records):
        start = pd.Timestamp(record.round)
        end = start + pd.Timedelta(days=VISIT_DAYS[1])
        window = pd.to_datetime(loop_visits["visited_on"]).between(start, end, inclusive="left")
        mine = loop_visits[window.to_numpy()]
        listed = mine[mine["trigger"] == "system_list"]
        days = pd.to_datetime(listed["visited_on"]).to_numpy().astype("datetime64[D]")
        in_need = judge.states(listed["household_id"].astype(str).to_numpy(), days) >= 1
        new = first[_made_by(first, mine)]
        after = (end + pd.offsets.MonthBegin(0)).date()
        need = judge.in_need(after)
        missed = _not_found_in_their_spell(need, finds[finds["visited_on"] < end], judge, after)
        delay = (new["visited_on"] - new["onset"]).dt.days.dropna()
        # Spells that began since the loop started: how soon a new case is reached, apart from the
        # backlog of long spells nobody had found before the loop.
        fresh = new[new["onset"] >= pd.Timestamp(records[0].round)]
        fresh_delay = (fresh["visited_on"] - fresh["onset"]).dt.days.dropna()
        following = pd.Timestamp(records[position + 1].round) if position + 1 < len(records) else end
        begun, reached = _new_spells_reached(judge, finds, start, following, followed_until)
        rows.append(
            {
                "round": record.round,
                "list_source": record.list_source,
                "list_visits": len(listed),
                "explore_visits": int((mine["trigger"] == "survey").sum()),
                "precision_at_capacity": float(in_need.mean()) if len(listed) else float("nan"),
                "recorded_positive_share": float(listed["outcome"].isin(POSITIVE_OUTCOMES).mean())
                if len(listed)
                else float("nan"),
                "found_first_time": len(new),
                "median_days_onset_to_visit": float(delay.median()) if len(delay) else float("nan"),
                "found_first_time_new_spells": len(fresh),
                "spells_begun": begun,
                f"spells_begun_found_within_{FOLLOW_UP_DAYS}d": reached,
                "median_days_onset_to_visit_new_spells": float(fresh_delay.median())
                if len(fresh_delay)
                else float("nan"),
                "in_need_after": len(need),
                "missed_after": missed,
                "retrained": record.retrained,
                "verdict": record.verdict,
                "champion": record.champion,
                **record.figures,
            }
        )
    table = pd.DataFrame(rows)
    table["found_first_time_cumulative"] = table["found_first_time"].cumsum()
    return table


def _new_spells_reached(
    judge: Judge, finds: pd.DataFrame, start: pd.Timestamp, until: pd.Timestamp, followed_until: pd.Timestamp
) -> tuple[int, float]:
    """Spells of need that began in the months from `start` to `until`, and how many of them any
    visit found within FOLLOW_UP_DAYS of their onset: how soon a new case is reached, counted over
    every new spell (one nobody found counts too), not only over those found. NaN where the loop
    ends before the follow-up does."""
    months = pd.date_range(start + pd.offsets.MonthBegin(0), until, freq="MS", inclusive="left")
    begun: list[tuple[str, pd.Timestamp]] = []
    for month in months:
        need = judge.in_need(month.date()).astype(str).to_numpy()
        onset = judge.onsets(need, np.full(len(need), np.datetime64(month.date(), "D")))
        fresh = onset == np.datetime64(month.date(), "D")
        begun += [(household, month) for household in need[fresh]]
    if not begun:
        return 0, float("nan")
    spells = pd.DataFrame(begun, columns=["household_id", "onset"])
    if spells["onset"].max() + pd.Timedelta(days=FOLLOW_UP_DAYS) > followed_until:
        return len(spells), float("nan")
    joined = spells.merge(
        finds[["household_id", "visited_on"]].astype({"household_id": str}), on="household_id"
    )
    within = joined[
        (joined["visited_on"] >= joined["onset"])
        & (joined["visited_on"] < joined["onset"] + pd.Timedelta(days=FOLLOW_UP_DAYS))
    ]
    return len(spells), float(within["household_id"].nunique())


def _not_found_in_their_spell(need: pd.Index, finds: pd.DataFrame, judge: Judge, month: dt.date) -> int:
    """Households in need in `month` whom no visit has found since their spell of need began (a
    finding in an earlier spell does not count; a spell older than the history counts any)."""
    ids = need.astype(str).to_numpy()
    onset = pd.to_datetime(judge.onsets(ids, np.full(len(ids), np.datetime64(month, "D"))))
    onset = pd.Series(onset, index=ids).fillna(pd.Timestamp.min)
    last = finds.groupby(finds["household_id"].astype(str))["visited_on"].max()
    reached = last.reindex(ids)
    return int((reached.isna() | (reached < onset)).sum())


def group_shares(
    loop_visits: pd.DataFrame,
    finds: pd.DataFrame,
    judge: Judge,
    households: pd.DataFrame,
    months: list[dt.date],
    loop_starts: dt.date,
) -> pd.DataFrame:
    """Per group: its share of the households the loop found for the first time, against its share
    of the households in need during the loop whom no visit had found before it (`households`: one
    row per household with the grouping columns as last delivered; `finds`: true_finds of every
    delivered visit)."""
    by_loop = finds[finds["first_time"] & _made_by(finds, loop_visits)]
    # Those in need during the loop whom no visit had found before it began: what the loop could find.
    in_need = pd.Index([]).append([judge.in_need(month) for month in months]).unique()
    before = finds.loc[finds["visited_on"] <= pd.Timestamp(loop_starts), "household_id"]
    in_need = in_need.difference(pd.Index(before.astype(str).unique()))
    known = households.set_index("household_id")
    rows = []
    for grouping, label in GROUPINGS.items():
        need_groups = known[grouping].reindex(in_need).astype("string").fillna("unknown")
        found_groups = (
            known[grouping].reindex(by_loop["household_id"].unique()).astype("string").fillna("unknown")
        )
        need_share = need_groups.value_counts(normalize=True)
        found_share = found_groups.value_counts(normalize=True)
        for group, share in need_share.items():
            found = float(found_share.get(group, 0.0))
            rows.append(
                {
                    "grouping": label,
                    "group": group,
                    "in_need": int((need_groups == group).sum()),
                    "found": int((found_groups == group).sum()),
                    "share_of_in_need": float(share),
                    "share_of_found": found,
                    "ratio": found / share if share else np.nan,
                }
            )
    return pd.DataFrame(rows)
