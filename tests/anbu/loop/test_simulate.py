"""`anbu simulate`: a small city runs anbu for three rounds, and the same city under today's rule."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from anbu.loop.policies import VISIT_DAYS
from anbu.loop.run import LoopPlan, checked_answer
from anbu.settings import Settings
from features.contract.vocabulary import POSITIVE_OUTCOMES

runner = CliRunner()
HOUSEHOLDS = "10000"


def _simulate(out: Path, *options: str):
    return runner.invoke(
        app,
        ["simulate", "--households", HOUSEHOLDS, "--seed", "1", "--rounds", "3", "--out", str(out), *options],
    )


@pytest.fixture(scope="module")
def loop_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs = {}
    for policy in ("anbu", "rule", "rule_not_yet_known"):
        out = tmp_path_factory.mktemp(f"loop-{policy}")
        result = _simulate(out, "--policy", policy, "--explore", "0.1")
        assert result.exit_code == 0, result.output
        runs[policy] = out
    return runs


def test_each_round_visits_every_districts_capacity_and_reports_what_it_found(loop_runs) -> None:
    rounds = pd.read_csv(loop_runs["anbu"] / "rounds.csv")
    assert len(rounds) == 3
    assert (rounds["list_visits"] > 0).all() and (rounds["explore_visits"] > 0).all()
    assert rounds["found_first_time"].sum() > 0
    assert rounds["precision_at_capacity"].between(0, 1).all()
    assert (rounds["missed_after"] > 0).all()  # a city of 10,000 has more in need than 1 % visits reach
    # every new spell counts, found or not; three rounds cannot follow one for 180 days
    assert (rounds["spells_begun"] > 0).all() and rounds["spells_begun_found_within_180d"].isna().all()
    # anbu retrains every round and the gates decide; a refused candidate leaves the champion serving
    assert rounds["retrained"].str.len().gt(0).all()
    promoted = rounds["verdict"].isin(["promoted", "refused"])
    assert promoted.any(), rounds[["retrained", "verdict"]]
    served = rounds["list_source"].str.startswith("anbu version")
    assert (served == rounds["champion"].notna()).all()
    assert (loop_runs["anbu"] / "rounds.png").stat().st_size > 0


def test_both_policies_make_the_same_visits_and_meet_the_same_city(loop_runs) -> None:
    anbu = pd.read_csv(loop_runs["anbu"] / "rounds.csv")
    rule = pd.read_csv(loop_runs["rule"] / "rounds.csv")
    assert (anbu["list_visits"] + anbu["explore_visits"]).tolist() == (
        rule["list_visits"] + rule["explore_visits"]
    ).tolist()
    assert (rule["list_source"] == "rule").all() and (rule["retrained"].isna()).all()
    # the same household visited on the same day finds the same thing under either policy
    visits = {policy: pd.read_csv(loop_runs[policy] / "visits.csv") for policy in ("anbu", "rule")}
    both = visits["anbu"].merge(visits["rule"], on=["household_id", "visited_on", "trigger"])
    assert len(both) > 10 and (both["outcome_x"] == both["outcome_y"]).all()


def test_the_rule_among_the_not_yet_known_never_revisits_a_household_its_visits_found(loop_runs) -> None:
    """Today's rule revisits whoever its indicators point at; kept off the known, as anbu's lists
    are, it never lists a household a visit found in the city's known window before the round."""
    seen = {}
    for policy in ("rule", "rule_not_yet_known"):
        window = pd.Timedelta(days=Settings(data=loop_runs[policy] / "city").known_window_days)
        rounds = pd.to_datetime(pd.read_csv(loop_runs[policy] / "rounds.csv")["round"])
        visits = pd.read_csv(loop_runs[policy] / "visits.csv", parse_dates=["visited_on"])
        listed = visits[visits["trigger"] == "system_list"].copy()
        # each list visit falls in its round's visiting days, before the next round
        listed["round"] = rounds.to_numpy()[rounds.searchsorted(listed["visited_on"], side="right") - 1]
        assert (listed["visited_on"] - listed["round"]).dt.days.between(*VISIT_DAYS).all()
        found = visits.loc[visits["outcome"].isin(POSITIVE_OUTCOMES), ["household_id", "visited_on"]]
        pairs = listed.merge(found, on="household_id", suffixes=("", "_found"))
        known = (pairs["visited_on_found"] <= pairs["round"]) & (
            pairs["visited_on_found"] >= pairs["round"] - window
        )
        seen[policy] = int(known.sum())
    assert seen["rule_not_yet_known"] == 0
    assert seen["rule"] > 0, (
        "the plain rule revisits found households on this city, or the check means nothing"
    )


def test_group_shares_of_the_found_stand_beside_their_shares_of_those_in_need(loop_runs) -> None:
    groups = pd.read_csv(loop_runs["anbu"] / "groups.csv")
    assert set(groups["grouping"]) == {"district", "age band", "sex", "housing type"}
    for _, rows in groups.groupby("grouping"):
        assert rows["share_of_in_need"].sum() == pytest.approx(1.0)
        assert rows["share_of_found"].sum() == pytest.approx(1.0, abs=1e-9) or rows["found"].sum() == 0


def test_the_run_is_an_mlflow_run_in_the_loops_own_store(loop_runs) -> None:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{loop_runs['anbu'] / 'models' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("anbu-loop")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["policy"] == "anbu" and run.data.params["rounds"] == "3"
    history = client.get_metric_history(run.info.run_id, "found_first_time_cumulative")
    assert [point.step for point in history] == [0, 1, 2]
    names = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"rounds.csv", "groups.csv", "rounds.png"} <= names


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            ["--policy", "oracle"],
            "--policy 'oracle': choose one of rule, rule_not_yet_known, anbu, anbu_frozen, random, best_possible",
        ),
        (["--explore", "1.5"], "--explore 1.5: a share of each list, between 0 and 1"),
        (["--recheck", "-0.2"], "--recheck -0.2: a share of each list, between 0 and 1"),
        (
            ["--policy", "rule", "--recheck", "0.2"],
            "--recheck: only anbu's lists have a re-check list, not --policy rule",
        ),
        (["--rounds", "60"], "--rounds 60: a synthetic city's history holds at most 49 rounds"),
        (["--visit-effect", "-0.1"], "--visit-effect: a visit's effect must be a chance in [0, 1]"),
        (["--households", "50"], "--households 50: a city needs at least 5,000 households"),
        (["--gates", "pyproject.toml"], "--gates: pyproject.toml:"),
    ],
)
def test_bad_options_are_one_line_naming_the_option_and_write_nothing(tmp_path, options, said) -> None:
    out = tmp_path / "run"
    result = _simulate(out, *options)
    assert result.exit_code != 0
    assert said in " ".join(result.output.split())
    assert not out.exists()


def test_a_folder_holding_an_earlier_run_is_refused(loop_runs) -> None:
    result = _simulate(loop_runs["rule"], "--policy", "rule")
    assert result.exit_code != 0
    assert "the folder holds an earlier run" in " ".join(result.output.split())


def test_a_city_answering_a_visit_nobody_asked_for_is_named() -> None:
    asked = pd.DataFrame(
        {"household_id": ["H1"], "visited_on": [pd.Timestamp("2026-02-10")], "trigger": ["system_list"]}
    )
    answered = pd.concat(
        [
            asked.assign(outcome="isolated", checklist_score=10),
            pd.DataFrame(
                {
                    "household_id": ["H99999999"],
                    "visited_on": [pd.Timestamp("2026-02-10")],
                    "trigger": ["system_list"],
                    "outcome": ["isolated"],
                    "checklist_score": [10],
                }
            ),
        ]
    )
    with pytest.raises(
        ValueError, match="household 'H99999999' on 2026-02-10: the city answered a visit nobody asked for"
    ):
        checked_answer(asked, answered)
    with pytest.raises(ValueError, match="household 'H1' on 2026-02-10: the city did not answer"):
        checked_answer(asked, answered.iloc[0:0])
    with pytest.raises(ValueError, match="--policy 'oracle'"):
        LoopPlan("oracle", ())
