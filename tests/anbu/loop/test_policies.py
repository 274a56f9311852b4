from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from anbu.loop.policies import capacities, explored, rule_lists, served_lists, visit_days
from features.round_table import build_round
from serving.scoring.champion import load_champion
from serving.scoring.rounds import score_round
from tests.support.served import DISTRICT, PREVIOUS, ROUND, found_within_a_year
from training.framing import not_yet_known

runner = CliRunner()


@pytest.mark.parametrize(("recheck", "rechecked"), [(0.0, 0), (0.2, 6)])
def test_the_loops_anbu_list_is_the_list_anbu_serves(
    models_env, monkeypatch, tmp_path, recheck: float, rechecked: int
) -> None:
    """The loop builds its lists through the one list builder: for the same round, district,
    capacity and re-check share, its households are `anbu rank`'s, in the same order."""
    copy = tmp_path / "city"
    shutil.copytree(models_env.data, copy, ignore=shutil.ignore_patterns("_scores", "_records", "_lists"))
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    # As in the loop, the round before is scored: re-checks are ordered by how much a risk rose.
    score_round(copy, PREVIOUS, load_champion())
    listed = served_lists(copy, ROUND.date(), {DISTRICT: 30}, 365, recheck)
    out = tmp_path / "rank.csv"
    monkeypatch.setenv("ANBU_RECORDS_URL", str(tmp_path / "records.sqlite"))
    result = runner.invoke(
        app,
        ["rank", "--data", str(models_env.data), "--as-of", str(ROUND.date()), "--gu", DISTRICT]
        + ["--capacity", "30", "--recheck", str(rechecked), "--format", "csv", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    ranked = pd.read_csv(io.BytesIO(out.read_bytes()), encoding="utf-8-sig", dtype=str)
    assert listed["household_id"].tolist() == ranked["가구번호"].tolist()
    assert (listed["gu"] == DISTRICT).all() and len(listed) == 30
    known = found_within_a_year(models_env.data)
    assert listed["household_id"].isin(known).sum() == rechecked  # the re-checks are the known


def test_every_policy_visits_each_districts_capacity_on_days_that_do_not_depend_on_the_policy(
    models_env,
) -> None:
    table, _ = build_round(models_env.data, ROUND)
    capacity = capacities(table, 0.01)
    assert sum(capacity.values()) == sum(
        max(1, round(0.01 * n)) for n in table.groupby("gu")["household_id"].size()
    )
    listed = rule_lists(table, capacity, 7, ROUND.date())
    assert listed.groupby("gu").size().to_dict() == {gu: n for gu, n in capacity.items() if n}
    kept, drawn = explored(table, listed, capacity, 0.5, 7, ROUND.date())
    explore = {gu: round(0.5 * n) for gu, n in capacity.items()}
    assert drawn.groupby("gu").size().to_dict() == {gu: n for gu, n in explore.items() if n}
    assert set(kept["household_id"]) <= set(listed["household_id"])
    assert not set(drawn["household_id"]) & set(kept["household_id"])  # nobody visited twice
    assert (kept.groupby("gu").size() <= pd.Series(capacity) - pd.Series(explore)).all()
    # drawn among all of a district's households, as a sweep draws: not only among those off the list
    everyone = explored(
        table, table[["household_id", "gu"]], {gu: 10_000 for gu in capacity}, 0.01, 7, ROUND.date()
    )[1]
    assert set(everyone["household_id"]) <= set(table["household_id"])
    days = visit_days(listed["household_id"], 7, ROUND.date())
    again = visit_days(listed["household_id"].iloc[::-1], 7, ROUND.date())
    assert (days == again.reindex(days.index)).all()
    offsets = (days - pd.Timestamp(ROUND)).dt.days
    assert offsets.between(3, 49).all() and offsets.nunique() > 10


def test_the_rule_among_the_not_yet_known_skips_every_household_a_visit_found_and_keeps_the_rules_order(
    models_env,
) -> None:
    """rule_not_yet_known is today's rule with the known households taken out, as anbu's discovery
    lists take them out: the rest keep the rule's order and the districts keep their capacity."""
    table, _ = build_round(models_env.data, ROUND)
    known = ~not_yet_known(table, 365)
    assert known.sum() > 20, "the fixture city must hold households a visit found"
    capacity = capacities(table, 0.05)
    plain = rule_lists(table, capacity, 7, ROUND.date())
    discovery = rule_lists(table, capacity, 7, ROUND.date(), known_window_days=365)
    assert not set(discovery["household_id"]) & set(table.loc[known, "household_id"])
    assert set(plain["household_id"]) & set(table.loc[known, "household_id"])  # the plain rule revisits them
    assert discovery.groupby("gu").size().to_dict() == {gu: n for gu, n in capacity.items() if n}
    unknown_of_plain = plain[~plain["household_id"].isin(table.loc[known, "household_id"])]
    for gu, rows in unknown_of_plain.groupby("gu"):
        chosen = discovery.loc[discovery["gu"] == gu, "household_id"].tolist()
        assert chosen[: len(rows)] == rows["household_id"].tolist()
