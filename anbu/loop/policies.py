"""Who a round's visits go to, under each policy the loop compares.

Every policy gets the same visits: each district's capacity (the same share of its registered
households for every policy), on the same days. What differs is whom it chooses:

- `rule`: today's rule (training/baselines.py), top of each district;
- `rule_not_yet_known`: today's rule among the households no visit has found in the city's known
  window, as anbu's discovery lists are: what anbu adds beyond not visiting the known again;
- `anbu`, `anbu_frozen`: the lists anbu serves (serving/lists/builder.py: discovery, and with
  `recheck` a share of re-checks of households outreach already knows), scored
  by the champion of the loop's own model store; until a model has been promoted the city goes on
  with today's rule, as a city adopting anbu would;
- `random`: households drawn at random in each district;
- `best_possible`: a reference, not a policy a city can run: the judge's own probability that each
  household is in need in the round's window (what no model of the delivered data can beat), so
  a report can say how much of a fall in precision is the shrinking pool of households nobody has
  found yet rather than the model.

`explore` gives a share of each district's visits to a simple random sample of the district's
households, recorded as a sweep sample (survey_samples) and visited as `survey`: the loop's
unbiased labels.
Draws are keyed by (seed, round, household), so two policies draw alike where they can.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

POLICIES = ("rule", "rule_not_yet_known", "anbu", "anbu_frozen", "random", "best_possible")
VISIT_DAYS = (3, 50)
"""A round's visits fall on days [3, 50) after its date, before the next round's delivery."""


def capacities(round_table: pd.DataFrame, share: float) -> dict[str, int]:
    """Each district's visits this round: `share` of its registered households, at least one."""
    households = round_table.groupby("gu", observed=True)["household_id"].size()
    return {str(gu): max(1, round(share * count)) for gu, count in households.items()}


def keyed_order(household_ids: pd.Series, seed: int, as_of: dt.date, purpose: str) -> np.ndarray:
    """A random but repeatable number per household for one round and purpose (blake2b of the
    whole key: draws for different rounds or purposes are independent)."""
    salt = f"{seed}|{as_of.isoformat()}|{purpose}|".encode()
    ids = household_ids.astype(str).to_numpy()
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(salt + household.encode(), digest_size=7).digest())
            for household in ids
        ],
        dtype=np.float64,
    )


def top_of_each_district(
    round_table: pd.DataFrame, score: np.ndarray, capacity: dict[str, int], tie_break: np.ndarray
) -> pd.DataFrame:
    """household_id, gu of the `capacity[gu]` highest scores of each district (ties broken at random)."""
    ranked = round_table[["household_id", "gu"]].assign(_score=score, _tie=tie_break)
    ranked = ranked.sort_values(["gu", "_score", "_tie"], ascending=[True, False, True])
    ranked["_place"] = ranked.groupby("gu", observed=True).cumcount()
    allowed = ranked["gu"].astype(str).map(capacity).fillna(0).to_numpy()
    return ranked.loc[ranked["_place"].to_numpy() < allowed, ["household_id", "gu"]].reset_index(drop=True)


def rule_lists(
    round_table: pd.DataFrame,
    capacity: dict[str, int],
    seed: int,
    as_of: dt.date,
    known_window_days: int | None = None,
) -> pd.DataFrame:
    """Today's rule, top of each district; with `known_window_days`, only among the households
    not yet known (training/framing.py: not_yet_known, the definition anbu's lists use)."""
    from training.baselines import todays_rule_score
    from training.framing import not_yet_known

    if known_window_days is not None:
        round_table = round_table[not_yet_known(round_table, known_window_days)].reset_index(drop=True)
    tie = keyed_order(round_table["household_id"], seed, as_of, "rule")
    return top_of_each_district(round_table, todays_rule_score(round_table), capacity, tie)


def random_lists(
    round_table: pd.DataFrame, capacity: dict[str, int], seed: int, as_of: dt.date
) -> pd.DataFrame:
    draw = keyed_order(round_table["household_id"], seed, as_of, "random")
    return top_of_each_district(round_table, -draw, capacity, np.zeros(len(draw)))


def best_possible_lists(
    round_table: pd.DataFrame, capacity: dict[str, int], seed: int, as_of: dt.date, judge
) -> pd.DataFrame:
    """The reference ranking: the judge's probability of need in the round's window."""
    truth = judge.round_truth(as_of)
    score = round_table["household_id"].map(truth["best_possible"]).fillna(0.0).to_numpy(dtype=float)
    tie = keyed_order(round_table["household_id"], seed, as_of, "best_possible")
    return top_of_each_district(round_table, score, capacity, tie)


def served_lists(
    folder: Path, as_of: dt.date, capacity: dict[str, int], known_window_days: int, recheck: float = 0.0
) -> pd.DataFrame:
    """The lists anbu serves for every district of the round: scored by the champion of the
    current model store, built by the one list builder with the city's settings; `recheck` of
    each district's visits go to its re-check list of households outreach already knows."""
    from anbu.commands.serving import open_records
    from anbu.settings import Settings
    from serving.lists.builder import ListBuilder, ListRequest
    from serving.scoring.champion import load_champion
    from serving.scoring.rounds import score_round
    from serving.scoring.served_rounds import ServedRounds

    champion = load_champion()
    day = pd.Timestamp(as_of)
    score_round(folder, day, champion)
    # The loop's own records and rounds: never a city's database or a pinned round from the environment.
    settings = Settings(data=folder, records_url=None, records=None, as_of=None)
    builder = ListBuilder(
        ServedRounds(folder, day, champion.version), open_records(settings), known_window_days
    )
    chosen = []
    for gu, visits in capacity.items():
        listed = builder.build(
            ListRequest(gu, visits, recheck_capacity=int(round(recheck * visits)), as_of=as_of)
        )
        chosen.append(pd.DataFrame({"household_id": listed.rows["household_id"], "gu": gu}))
    return pd.concat(chosen, ignore_index=True)


def explored(
    round_table: pd.DataFrame,
    listed: pd.DataFrame,
    capacity: dict[str, int],
    share: float,
    seed: int,
    as_of: dt.date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the list's visits kept, the exploration visits) when `share` of each district's visits go
    to households drawn at random among all of the district's, as a screening sweep draws them (a
    simple random sample is what the survey weights assume: training/survey.py). A drawn household
    that was on the list is visited once, as drawn; the list keeps its top for the rest."""
    if share <= 0:
        return listed, listed.iloc[0:0]
    explore = {gu: int(round(share * visits)) for gu, visits in capacity.items()}
    draw = keyed_order(round_table["household_id"], seed, as_of, "explore")
    drawn = top_of_each_district(round_table, -draw, explore, np.zeros(len(draw)))
    rest = listed[~listed["household_id"].isin(drawn["household_id"])]
    place = rest.groupby("gu", observed=True).cumcount().to_numpy()
    room = rest["gu"].astype(str).map({gu: capacity[gu] - explore[gu] for gu in capacity}).to_numpy()
    return rest[place < room].reset_index(drop=True), drawn


def visit_days(household_ids: pd.Series, seed: int, as_of: dt.date) -> pd.Series:
    """The day each listed household is visited: keyed, so the same household the same day under
    any policy."""
    low, high = VISIT_DAYS
    offset = keyed_order(household_ids, seed, as_of, "day").astype(np.int64) % (high - low) + low
    return pd.Series(pd.Timestamp(as_of) + pd.to_timedelta(offset, unit="D"), index=household_ids.index)
