"""A training run against a real MLflow store: logged, registered, and loadable as probabilities."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from anbu.settings import Settings
from features.contract.files import write_source
from features.contract.schemas import SOURCES_BY_NAME
from serving.explain.tree_model import LINEAR_TREES
from synthetic.generator import generate_city
from training.comparison import compare_with_champion
from training.config import ConfigError, load_experiment
from training.promotion import promote
from training.promotion_gates import Override, PromotionGates, load_gates
from training.promotion_history import Verdict
from training.tracking import EXPLANATION_REFUSED, MODEL_NAME
from training.train import TrainingResult, train_experiment

BASELINE = Path(__file__).parents[2] / "experiments" / "baseline.toml"


class Trained(NamedTuple):
    result: TrainingResult
    run: Run
    booster: lgb.Booster
    city: Path


def write_sweep_samples(city: Path) -> None:
    """Samples for two thirds of the households surveyed after the test round: half of them
    recorded a week before the household's survey visit, half only the day after it."""
    visits = pd.read_parquet(city / "outreach_visits.parquet")
    visits["visited_on"] = pd.to_datetime(visits["visited_on"])
    surveyed = visits[(visits["trigger"] == "survey") & (visits["visited_on"] > pd.Timestamp("2026-07-31"))]
    first = surveyed.groupby("household_id")["visited_on"].min().sort_index()
    before, after = first.iloc[0::3], first.iloc[1::3]
    samples = pd.DataFrame(
        {
            "household_id": [*before.index, *after.index],
            "sweep": "2026-08 screening",
            "drawn_on": [*(before - pd.Timedelta(days=7)), *(after + pd.Timedelta(days=1))],
        }
    )
    write_source(samples, SOURCES_BY_NAME["survey_samples"], city)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("training")
    city = root / "city"
    generate_city(city, households=12_000, months=24, seed=5)
    write_sweep_samples(city)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.chdir(root)
        result = train_experiment(city, load_experiment(BASELINE), BASELINE, Settings())
        client = MlflowClient()
        run = client.get_run(result.run_id)
        booster = mlflow.lightgbm.load_model(f"models:/{MODEL_NAME}/{result.model_version}")
        yield Trained(result, run, booster, city)


def test_run_records_config_params_and_metrics_of_model_and_baselines(trained) -> None:
    result, run, _, _ = trained
    assert run.data.params["label.framing"] == "survey_weighted"
    for name in ("model", "rule", "logistic", "best_possible"):
        assert f"{name}_truth_precision_at_capacity" in run.data.metrics
    assert "rule_truth_ece" not in run.data.metrics  # a rule's score is not a probability
    assert (
        str(MlflowClient().get_model_version_by_alias(MODEL_NAME, "challenger").version)
        == result.model_version
    )
    assert 0 < result.figures.metrics["model_truth_share_of_best_possible"] <= 1.0 + 1e-9


def test_registered_model_loads_with_the_lightgbm_flavour_and_returns_probabilities(trained) -> None:
    result, _, booster, _ = trained
    assert result.model_version == "1"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, booster.num_feature()))
    probabilities = booster.predict(rows)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    contributions = booster.predict(rows, pred_contrib=True)
    log_odds = booster.predict(rows, raw_score=True)
    assert np.abs(contributions.sum(axis=1) - log_odds).max() < 1e-6
    assert np.abs(probabilities - 1 / (1 + np.exp(-log_odds))).max() < 1e-12


class _Asked(dict):
    """A run's metrics that remember every key a reader asked for and the run does not have."""

    def __init__(self, metrics: dict[str, float]) -> None:
        super().__init__(metrics)
        self.missing: set[str] = set()

    def get(self, name, default=None):
        if name not in self:
            self.missing.add(name)
        return super().get(name, default)


def test_every_figure_the_card_the_gates_and_the_summary_read_is_one_the_evaluation_wrote(trained) -> None:
    from anbu.commands.train import summary_lines
    from training.figures import Figures
    from training.promotion import decide

    result, run, _, _ = trained
    asked = _Asked(result.figures.metrics)
    figures = Figures(asked)
    for measure in (
        "precision_at_capacity",
        "recall_at_capacity",
        "ece",
        "mean_risk_ratio",
        "gain_over_rule",
        "curve_gain_over_rule",
    ):
        assert figures.survey(measure) is not None, measure
    summary_lines(figures)
    decide(asked, run.data.tags, None, load_gates(BASELINE.with_name("promotion.toml")), result.model_version)
    # Only a comparison's capacity and rival list (on plain estimates), the champion (none yet) and, in a city this
    # small, the lowest judged group (no group has enough survey positives) may be absent.
    none_judged = result.figures.metrics["model_survey_groups_judged"] == 0
    absent = {
        name
        for name in asked.missing
        if not name.endswith(("_share", "_rival_households"))
        and "champion" not in name
        and not (none_judged and "group_recall" in name)
    }
    assert absent == set()


def test_run_logs_curves_fairness_importance_shap_and_the_card(trained) -> None:
    result, run, _, _ = trained
    client = MlflowClient()
    listed = {
        a.path
        for folder in ("evaluation", "explanation")
        for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert listed == {
        "evaluation/precision_at_capacity.png",
        "evaluation/calibration.png",
        "evaluation/calibration_curve.csv",
        "evaluation/fairness_survey.csv",
        "evaluation/fairness_survey.png",
        "evaluation/fairness_by_group.csv",
        "evaluation/fairness_by_group.png",
        "evaluation/survey_provenance.csv",
        "explanation/feature_importance.csv",
        "explanation/feature_importance.png",
        "explanation/shap_summary.png",
    }
    assert 0 <= result.figures.metrics["model_truth_min_group_recall_ratio"] <= 1.0 + 1e-9
    assert "lowest_group_recall" in run.data.tags
    card = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model_card.md"))
    text = card.read_text(encoding="utf-8")
    for heading in (
        "## Intended use",
        "## Data window",
        "## Test round",
        "## Discovery list",
        "## Fairness",
        "## Known limits",
        "## Promotion decisions",
    ):
        assert heading in text
    discovery = result.figures.metrics["model_truth_discovery_precision_at_capacity"]
    assert (
        f"| against the truth: found isolated or at risk on the list (precision at capacity) | {discovery:.3f}"
        in text
    )
    assert (
        f"From the test round's {int(result.figures.metrics['test_survey_households']):,} survey-visited households"
        in text
    )
    assert "| training | 2025-03-31, 2025-05-31" in text
    assert (
        f"| precision at capacity | {result.figures.metrics['model_truth_precision_at_capacity']:.3f}" in text
    )


def test_the_evaluation_says_where_each_survey_label_came_from(trained) -> None:
    result, run, _, _ = trained
    m = result.figures.metrics
    recorded, after, unrecorded = (
        m[f"test_survey_labels_{source}"]
        for source in ("recorded_sample", "drawn_after_visit", "no_recorded_sample")
    )
    assert recorded + after + unrecorded == m["test_survey_households"]
    assert recorded > 0 and after > 0 and unrecorded > 0
    assert abs(recorded - after) <= 0.2 * recorded and unrecorded >= recorded
    folder = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="evaluation")
    by_district = pd.read_csv(Path(folder) / "survey_provenance.csv")
    assert set(by_district.columns) == {"gu", "source", "households", "positives"}
    assert by_district.groupby("source")["households"].sum().to_dict() == {
        "drawn_after_visit": after,
        "no_recorded_sample": unrecorded,
        "recorded_sample": recorded,
    }
    assert (by_district["positives"] <= by_district["households"]).all()
    card = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model_card.md"))
    assert (
        f"Survey labels: {int(recorded):,} from a sweep sample recorded before the visit"
        in card.read_text(encoding="utf-8")
    )


def test_calibration_rests_on_survey_visits_alone(trained) -> None:
    _, run, _, _ = trained
    calibrated_on = run.data.params["calibrated_on"]
    assert calibrated_on.startswith("survey visits: the validation round's ")
    assert "and the training rounds' " in calibrated_on and "(scored out of fold)" in calibrated_on
    households = run.data.metrics["calibration_survey_households"]
    assert households >= 200 and run.data.metrics["calibration_survey_positives"] >= 15


def test_every_survey_figure_has_an_interval_and_the_households_behind_it(trained) -> None:
    result, _, _, _ = trained
    m = result.figures.metrics
    for figure in (
        "model_survey_precision_at_capacity",
        "rule_survey_precision_at_capacity",
        "model_survey_recall_at_capacity",
        "model_survey_gain_over_rule",
        "model_survey_lift_over_rule",
        "model_survey_curve_gain_over_rule",
        "model_survey_ece",
        "model_survey_mean_risk_ratio",
    ):
        if m[f"{figure}_households"] >= 1:
            assert m[f"{figure}_low"] <= m[figure] <= m[f"{figure}_high"], figure
        else:  # no survey household on that list: no estimate, rather than a made-up one
            assert np.isnan(m[figure]), figure
    assert m["model_survey_ece_households"] == m["test_survey_households"] > 0
    # the same quantities, as a visit to every household of the synthetic city would find them
    for figure in ("precision_at_capacity", "recall_at_capacity", "ece", "mean_risk_ratio", "gain_over_rule"):
        assert f"model_census_{figure}" in m


def test_training_refuses_when_the_survey_cannot_calibrate_and_says_where_sweeps_fall(
    trained, tmp_path: Path
) -> None:
    config = tmp_path / "no_sweep.toml"
    text = BASELINE.read_text(encoding="utf-8")
    text = text.replace('validation = "2026-03-31"', 'validation = "2026-05-31"').replace(
        'test = "2026-07-31"', 'test = "2026-08-31"'
    )
    config.write_text(text.replace("cross_fit_folds = 5", "cross_fit_folds = 0"), encoding="utf-8")
    client = MlflowClient()
    runs_before = len(client.search_runs([e.experiment_id for e in client.search_experiments()]))
    with pytest.raises(ConfigError) as refused:
        train_experiment(trained.city, load_experiment(config), config, Settings())
    message = str(refused.value)
    assert message.startswith("validation round 2026-05-31: calibration needs at least 200 survey-visited")
    assert "the validation round's 0 give 0 with 0" in message
    assert "Survey visits in this delivery by month: 2025-04 (" in message and "2026-10 (" in message
    assert len(client.search_runs([e.experiment_id for e in client.search_experiments()])) == runs_before


def test_the_logged_signature_accepts_missing_values_in_every_feature(trained) -> None:
    result, run, _, _ = trained
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{result.model_version}")
    inputs = model.metadata.get_input_schema().inputs
    assert {spec.type.name for spec in inputs} == {"double"}


def _copy_of_the_store(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the store, so the other tests keep seeing version 1 as the newest."""
    original = Path(MlflowClient().tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(original, folder / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")


def test_a_later_candidate_is_compared_with_the_champion_on_the_same_survey_households(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_of_the_store(tmp_path, monkeypatch)
    gates = load_gates(BASELINE.parent / "promotion.toml")
    first = promote("1", gates, Override("the training tests", "a champion to compare with"))
    card = mlflow.artifacts.download_artifacts(run_id=trained.result.run_id, artifact_path="model_card.md")
    decisions = Path(card).read_text(encoding="utf-8").partition("## Promotion decisions")[2]
    assert decisions.count("\n1. ") == 1 and "\n2. " not in decisions
    assert f"**{first.verdict.value}**" in decisions and "## Known limits" not in decisions
    second = train_experiment(trained.city, load_experiment(BASELINE), BASELINE, Settings())
    run = MlflowClient().get_run(second.run_id)
    assert run.data.tags["compared_with_champion"] == "1"
    m = second.figures.metrics
    # the same config on the same data: the lists agree, so the paired difference is about zero
    assert m["model_survey_gain_over_champion_low"] <= 0 <= m["model_survey_gain_over_champion_high"]
    assert m["model_survey_gain_over_champion_share"] >= 0.01
    # judged on the champion gate alone (the others are pinned in test_promotion.py)
    lenient = PromotionGates(
        capacity_tolerance=0.05, max_ece=1.0, mean_risk_ratio_band=(0.01, 100.0), min_group_recall_ratio=0.0
    )
    decision = promote(second.model_version, lenient)
    assert decision.promote, decision.reasons
    assert decision.reasons[0].startswith("against champion version 1:")
    # compared again later (the champion is now version 2): the comparison is logged into the run
    assert compare_with_champion(trained.city, "1") == second.model_version
    again = MlflowClient().get_run(trained.result.run_id)
    assert again.data.tags["compared_with_champion"] == second.model_version
    assert "model_survey_gain_over_champion" in again.data.metrics


def test_the_shuffled_label_control_leaves_the_validation_and_test_rounds_as_they_are(trained) -> None:
    from training.train import load_rounds

    config = load_experiment(BASELINE)
    shuffled = config.model_copy(update={"label": config.label.model_copy(update={"shuffled_seed": 3})})
    plain, control = load_rounds(trained.city, config), load_rounds(trained.city, shuffled)
    pd.testing.assert_frame_equal(plain.validation, control.validation)
    pd.testing.assert_frame_equal(plain.test, control.test)
    labelled = plain.train["label"].notna()
    assert control.train["label"].notna().equals(labelled)
    assert (control.train.loc[labelled, "label"] != plain.train.loc[labelled, "label"]).mean() > 0.05


def test_a_model_no_exact_explanation_covers_is_trained_and_recorded_but_never_promoted(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_of_the_store(tmp_path, monkeypatch)
    config = tmp_path / "linear_trees.toml"
    text = BASELINE.read_text(encoding="utf-8").replace("[lightgbm]\n", "[lightgbm]\nlinear_tree = true\n")
    config.write_text(text.replace("n_estimators = 800", "n_estimators = 40"), encoding="utf-8")
    result = train_experiment(trained.city, load_experiment(config), config, Settings())
    run = MlflowClient().get_run(result.run_id)
    assert run.data.tags[EXPLANATION_REFUSED] == LINEAR_TREES
    refused = promote(result.model_version, load_gates(BASELINE.parent / "promotion.toml"))
    assert refused.verdict is Verdict.REFUSED
    assert refused.reasons == [f"its reasons could not be exact, so it is never served: {LINEAR_TREES}"]
    insisted = promote(
        result.model_version,
        load_gates(BASELINE.parent / "promotion.toml"),
        Override("the training tests", "try to serve it anyway"),
    )
    assert insisted.verdict is Verdict.REFUSED and not insisted.moved_champion
    assert insisted.reasons[-1] == "an override cannot serve a model without exact reasons"
