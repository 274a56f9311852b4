"""Experiment configs fail at start, naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, load_experiment

GOOD = """
name = "t"
description = "d"
[rounds]
train = ["2025-05-31", "2025-07-31"]
validation = "2025-11-30"
test = "2026-03-31"
"""


def test_a_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD)
    config = load_experiment(path)
    assert config.label.framing == "survey_weighted"
    assert config.features.protected_inputs is False
    assert config.evaluation.capacity_share == 0.01


def test_a_misspelt_key_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD + '[label]\nframeing = "visited_only"\n')
    with pytest.raises(ConfigError, match=r"t\.toml: label\.frameing: Extra inputs"):
        load_experiment(path)


def test_training_labels_may_not_reach_into_the_validation_round(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD.replace('validation = "2025-11-30"', 'validation = "2025-09-30"'))
    with pytest.raises(ConfigError, match="label window reaches past the validation round"):
        load_experiment(path)


EXPERIMENTS = sorted(
    path
    for path in (Path(__file__).parents[2] / "experiments").glob("*.toml")
    if path.name != "promotion.toml"  # the promotion gates, not an experiment
)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_shipped_experiment_config_loads(path: Path) -> None:
    assert load_experiment(path).name == path.stem


def test_an_ablation_leaves_out_named_features_of_the_chosen_families_only(tmp_path: Path) -> None:
    from training.framing import model_features

    path = tmp_path / "t.toml"
    path.write_text(GOOD + '[features]\nwithout = ["crisis_categories_12m"]\n')
    inputs = [f.name for f in model_features(load_experiment(path))]
    assert "crisis_categories_12m" not in inputs and "crisis_distinct_12m" in inputs
    path.write_text(GOOD + '[features]\nfamilies = ["admin"]\nwithout = ["crisis_categories_12m"]\n')
    with pytest.raises(ConfigError, match=r"features: .*names \['crisis_categories_12m'\], not features of"):
        load_experiment(path)


def test_protected_attributes_are_inputs_only_when_asked_whichever_families_are_chosen(
    tmp_path: Path,
) -> None:
    from training.framing import model_features

    path = tmp_path / "t.toml"
    path.write_text(GOOD + '[features]\nfamilies = ["crisis"]\nprotected_inputs = true\n')
    inputs = {f.name for f in model_features(load_experiment(path))}
    assert {"head_sex_female", "disability"} <= inputs and "age" not in inputs
    path.write_text(GOOD + '[features]\nfamilies = ["history"]\n')
    assert not {"head_sex_female", "disability"} & {f.name for f in model_features(load_experiment(path))}
