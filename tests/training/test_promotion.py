"""Promotion gates judged on survey estimates: shown better than today's rule first, then not shown
worse than the champion; refused when calibration or a group is shown out of bounds; overridable
by a named person, on the record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from training.config import ConfigError
from training.promotion import Override, PromotionGates, decide, load_gates, promote
from training.tracking import CHAMPION, MODEL_NAME, configure

ROOT = Path(__file__).parents[2]
GATES = PromotionGates(
    capacity_tolerance=0.05, max_ece=0.02, mean_risk_ratio_band=(0.85, 1.15), min_group_recall_ratio=0.8
)


def _figure(name: str, value: float, low: float, high: float, households: int = 700) -> dict[str, float]:
    return {name: value, f"{name}_low": low, f"{name}_high": high, f"{name}_households": households}


GOOD = {
    **_figure("model_survey_precision_at_capacity", 0.5, 0.3, 0.7, 8),
    **_figure("model_survey_gain_over_rule", 0.30, 0.08, 0.51, 21),
    "model_survey_gain_over_rule_share": 0.03,
    **_figure("model_survey_ece", 0.021, 0.0, 0.05),
    **_figure("model_survey_mean_risk_ratio", 1.12, 0.91, 1.42),
    **_figure("model_survey_min_group_recall_ratio", 0.64, 0.1, 1.5, 32),
    "model_survey_group_recall_ratio_high_min": 1.2,
    "model_survey_groups_judged": 2,
    "model_survey_groups_not_judged": 39,
}
TAGS = {"lowest_group_recall_survey": "head_sex=M"}


def test_a_first_model_shown_to_beat_todays_rule_is_promoted() -> None:
    decision = decide(GOOD, TAGS, None, GATES, "1")
    assert decision.promote
    assert decision.reasons[0].startswith("no champion yet; beats today's rule by 0.300 [0.080, 0.510")


def test_a_first_model_whose_gain_over_the_rule_may_be_zero_is_refused() -> None:
    metrics = {**GOOD, **_figure("model_survey_gain_over_rule", 0.10, -0.04, 0.25, 21)}
    decision = decide(metrics, TAGS, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [
        "not shown to beat today's rule: found more often by 0.100 [-0.040, 0.250, 21 survey households] "
        "at 3.0% capacity (the interval reaches zero)"
    ]


def test_a_later_model_must_be_shown_within_the_tolerance_of_the_champion_on_the_same_households() -> None:
    tags = {**TAGS, "compared_with_champion": "1"}
    close = {
        **GOOD,
        **_figure("model_survey_gain_over_champion", -0.01, -0.04, 0.02, 30),
        "model_survey_gain_over_champion_share": 0.03,
    }
    assert decide(close, tags, "1", GATES, "2").promote
    worse = {**close, **_figure("model_survey_gain_over_champion", -0.05, -0.15, 0.05, 27)}
    decision = decide(worse, tags, "1", GATES, "2")
    assert not decision.promote
    assert decision.reasons[0].startswith("not shown within 0.05 of champion version 1")


def test_a_model_compared_with_another_champion_is_refused_until_compared_again() -> None:
    decision = decide(GOOD, {**TAGS, "compared_with_champion": "1"}, "3", GATES, "4")
    assert not decision.promote
    assert "the champion is version 3: run `anbu promote --data DIR`" in decision.reasons[0]
    assert "compared with no champion" in decide(GOOD, TAGS, "3", GATES, "4").reasons[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            _figure("model_survey_ece", 0.06, 0.03, 0.09),
            "calibration error 0.0600 [0.0300, 0.0900, 700 survey households] is above the bound 0.02 "
            "even at the low end of its interval",
        ),
        (
            _figure("model_survey_mean_risk_ratio", 2.4, 2.1, 2.7),
            "mean served risk ÷ share found 2.400 [2.100, 2.700, 700 survey households] lies outside "
            "0.85–1.15: the scores do not mean what visits find",
        ),
    ],
)
def test_a_model_shown_miscalibrated_is_refused(change: dict, reason: str) -> None:
    decision = decide({**GOOD, **change}, TAGS, None, GATES, "1")
    assert not decision.promote and decision.reasons == [reason]


def test_noisy_calibration_figures_that_may_be_within_bounds_do_not_refuse() -> None:
    noisy = {
        **GOOD,
        **_figure("model_survey_ece", 0.03, 0.005, 0.06),
        **_figure("model_survey_mean_risk_ratio", 1.3, 1.1, 1.6),
    }
    assert decide(noisy, TAGS, None, GATES, "1").promote


def test_a_judged_group_shown_under_served_refuses_and_unjudged_groups_are_counted() -> None:
    unfair = {
        **GOOD,
        "model_survey_group_recall_ratio_high_min": 0.6,
        **_figure("model_survey_min_group_recall_ratio", 0.3, 0.1, 0.6, 25),
    }
    decision = decide(unfair, {"lowest_group_recall_survey": "age_band=40s"}, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [
        "a group's recall is below 0.8 of the city's even at the top of its interval (0.60); lowest "
        "age_band=40s 0.30 [0.10, 0.60, 25 survey households]; 2 groups judged, 39 not judged (too few survey positives)"
    ]
    none_judged = {k: v for k, v in GOOD.items() if "group_recall" not in k} | {
        "model_survey_groups_judged": 0
    }
    assert (
        "no group has enough survey positives to judge"
        in decide(none_judged, {}, None, GATES, "1").reasons[-1]
    )


def test_a_run_without_survey_estimates_is_refused_with_the_reason() -> None:
    tags = {
        "survey_evaluation": "not estimated: the test round's 90-day window has 0 survey-visited households"
    }
    decision = decide({"test_survey_households": 0}, tags, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [f"nothing to judge on: {tags['survey_evaluation']}"]


def test_shipped_gates_file_loads() -> None:
    assert load_gates(ROOT / "experiments" / "promotion.toml") == GATES


def test_an_override_needs_a_name_and_a_reason() -> None:
    with pytest.raises(ConfigError, match="--by"):
        Override(" ", "field trial")
    with pytest.raises(ConfigError, match="--reason"):
        Override("Kim", "")


def _register(metrics: dict[str, float], tags: dict[str, str] | None = None) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 5)
    with mlflow.start_run():
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags or TAGS)
        info = mlflow.lightgbm.log_model(booster, name="model", registered_model_name=MODEL_NAME)
    return str(info.registered_model_version)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    configure()
    return tmp_path


def test_promotion_moves_the_alias_only_for_a_passing_version_and_tags_every_decision(store: Path) -> None:
    first = _register(GOOD)
    second = _register({**GOOD, **_figure("model_survey_ece", 0.05, 0.03, 0.07)})
    client = MlflowClient()
    assert promote(first, GATES).promote
    kept = promote(second, GATES)
    assert not kept.promote and kept.champion == first
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == first
    refused = client.get_model_version(MODEL_NAME, second).tags
    assert refused["promotion.decision"] == "refused"
    assert "calibration error 0.0500" in refused["promotion.reasons"]
    assert refused["promotion.compared_with"] == first


def test_an_override_promotes_a_refused_version_and_records_who_and_why(store: Path) -> None:
    refused = _register({**GOOD, **_figure("model_survey_gain_over_rule", 0.1, -0.05, 0.25, 21)})
    decision = promote(refused, GATES, Override("Kim Minji (data team)", "field trial in two districts"))
    assert decision.promote and decision.verdict == "promoted by override"
    client = MlflowClient()
    tags = client.get_model_version(MODEL_NAME, refused).tags
    assert tags["promotion.decision"] == "promoted by override"
    assert tags["promotion.override_by"] == "Kim Minji (data team)"
    assert tags["promotion.override_reason"] == "field trial in two districts"
    assert tags["promotion.reasons"].startswith("not shown to beat today's rule")
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == refused


def test_anbu_promote_exits_non_zero_when_it_refuses(store: Path) -> None:
    version = _register({**GOOD, **_figure("model_survey_ece", 0.05, 0.03, 0.07)})
    command = [
        sys.executable,
        "-m",
        "anbu.cli",
        "promote",
        "--gates",
        str(ROOT / "experiments" / "promotion.toml"),
    ]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=store, check=False)
    assert refused.returncode == 1, refused.stderr
    assert f"isolation-risk version {version}: not promoted; no model serves" in refused.stdout
    half = subprocess.run(
        [*command, "--override", "--by", "Kim"], capture_output=True, text=True, cwd=store, check=False
    )
    assert half.returncode == 2 and "--reason" in half.stderr
    overridden = subprocess.run(
        [*command, "--override", "--by", "Kim", "--reason", "pilot"],
        capture_output=True,
        text=True,
        cwd=store,
        check=False,
    )
    assert overridden.returncode == 0, overridden.stderr
    assert "promoted to champion by override (Kim: pilot)" in overridden.stdout
