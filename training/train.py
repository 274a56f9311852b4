"""One experiment: learn from earlier rounds, stop and calibrate on a later one, report on the latest.

Everything a data scientist needs to compare runs goes to MLflow: the config, parameters, input
datasets, the calibrated LightGBM model (registered as `isolation-risk`), and the metrics of the
model and of both baselines on the test round — against the visit labels a city would have, and,
for a synthetic city, against the true state of every household and the best possible ranking.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from mlflow.models import infer_signature

from features.round_table import build_training_set
from training.baselines import logistic_pipeline, todays_rule_score
from training.calibration import PlattScaling, VisitNoiseScaling, fold_into_booster
from training.config import ExperimentConfig
from training.framing import categorical_features, frame_rows, model_features
from training.metrics import capacity_count, ranking_metrics, top_k_mask
from training.model_card import CardFacts, render, round_sizes
from training.reports import (
    calibration_plot,
    fairness_chart,
    fairness_table,
    feature_importance,
    lowest_gated_group,
    precision_at_capacity_curve,
    shap_summary,
)
from training.tracking import CHALLENGER, MODEL_NAME, configure

MIN_SURVEY_ROWS_FOR_CALIBRATION = 200


@dataclass(frozen=True)
class Rounds:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class Candidate:
    booster: lgb.Booster
    """Calibrated: predict() is the probability of a positive finding in the next 90 days."""
    features: list[str]
    categorical: list[str]
    scaling: PlattScaling
    calibrated_on: str
    visit_noise: VisitNoiseScaling | None = None
    """Estimated visit error rates, when calibrated to the true state through them."""


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    model_version: str
    metrics: dict[str, float]


def load_rounds(data_dir: Path, config: ExperimentConfig) -> Rounds:
    dates = [pd.Timestamp(d) for d in (*config.rounds.train, config.rounds.validation, config.rounds.test)]
    table, _ = build_training_set(data_dir, dates)
    train_dates = [pd.Timestamp(d) for d in config.rounds.train]
    return Rounds(
        train=table[table["round_date"].isin(train_dates)].reset_index(drop=True),
        validation=table[table["round_date"] == pd.Timestamp(config.rounds.validation)].reset_index(
            drop=True
        ),
        test=table[table["round_date"] == pd.Timestamp(config.rounds.test)].reset_index(drop=True),
    )


def true_outcomes(data_dir: Path, round_date: pd.Timestamp) -> pd.DataFrame | None:
    """For a synthetic city only: the true state after the round and the best possible score."""
    path = Path(data_dir) / "_truth" / "monthly_state.parquet"
    if not path.is_file():
        return None
    truth = pq.read_table(path).to_pandas(date_as_object=False).astype({"month": "datetime64[us]"})
    months = pd.date_range(round_date + pd.Timedelta(days=1), periods=3, freq="MS")
    window = truth[truth["month"].isin(months)]
    return pd.DataFrame(
        {
            "true_positive": window.groupby("household_id")["state"].max().ge(1).astype(int),
            "best_possible": truth[truth["month"] == months[0]].set_index("household_id")["p_positive_90d"],
        }
    )


def fit_candidate(config: ExperimentConfig, rounds: Rounds) -> Candidate:
    """LightGBM with early stopping on the validation round, calibration folded in."""
    chosen = model_features(config)
    features = [f.name for f in chosen]
    categorical = categorical_features(chosen)
    framing, weight = config.label.framing, config.label.survey_weight
    train = frame_rows(rounds.train, framing, weight, features)
    valid = frame_rows(rounds.validation, framing, weight, features)
    params = config.lightgbm.model_dump()
    rounds_max = params.pop("n_estimators")
    patience = params.pop("early_stopping_rounds")
    params.update(objective="binary", verbose=-1, seed=config.seed, deterministic=True, num_threads=2)
    booster = lgb.train(
        params,
        lgb.Dataset(train.features, train.label, weight=train.weight, categorical_feature=categorical),
        num_boost_round=rounds_max,
        valid_sets=[
            lgb.Dataset(valid.features, valid.label, weight=valid.weight, categorical_feature=categorical)
        ],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    labelled = rounds.validation[rounds.validation["label"].notna()]
    if config.calibration.method == "sigmoid_visit_noise":
        # Every visit measures the same way whatever sent the team, and lists select on the
        # features themselves, so all visits inform the fit; the survey alone is too few rows.
        raw = booster.predict(labelled[features], raw_score=True, num_iteration=booster.best_iteration)
        noise = VisitNoiseScaling.fit(raw, labelled["label"].to_numpy(dtype=int))
        return Candidate(
            fold_into_booster(booster, noise.scaling),
            features,
            categorical,
            noise.scaling,
            "validation-round visits, through the visits' error rates",
            noise,
        )
    # Survey visits sample the city evenly, so calibrating on them makes scores probabilities
    # of what a visit would record for every household, not only the kind that gets visited.
    survey = labelled[labelled["label_survey"] == 1]
    calibration_rows, calibrated_on = (
        (survey, "validation-round survey visits")
        if len(survey) >= MIN_SURVEY_ROWS_FOR_CALIBRATION and survey["label"].sum() >= 10
        else (labelled, "validation-round visits")
    )
    raw = booster.predict(calibration_rows[features], raw_score=True, num_iteration=booster.best_iteration)
    scaling = PlattScaling.fit(raw, calibration_rows["label"].to_numpy(dtype=int))
    return Candidate(fold_into_booster(booster, scaling), features, categorical, scaling, calibrated_on)


def test_scores(config: ExperimentConfig, rounds: Rounds, candidate: Candidate) -> dict[str, np.ndarray]:
    """Scores of the test round's households by the model and both baselines."""
    test = rounds.test
    numeric = [f for f in candidate.features if f not in candidate.categorical]
    train = frame_rows(rounds.train, config.label.framing, config.label.survey_weight, candidate.features)
    logistic = logistic_pipeline(numeric, candidate.categorical, config.seed).fit(
        train.features, train.label, model__sample_weight=train.weight
    )
    return {
        "model": candidate.booster.predict(test[candidate.features]),
        "rule": todays_rule_score(test),
        "logistic": logistic.predict_proba(test[candidate.features])[:, 1],
    }


def evaluate(
    config: ExperimentConfig, rounds: Rounds, scores: dict[str, np.ndarray], truth: pd.DataFrame | None
) -> dict[str, float]:
    """Metrics of the model and both baselines on the test round."""
    test = rounds.test
    share = config.evaluation.capacity_share
    metrics: dict[str, float] = {}
    labelled = test["label"].notna().to_numpy()
    for name, score in scores.items():
        visits = ranking_metrics(
            test["label"].to_numpy()[labelled], score[labelled], test["gu"][labelled], share
        )
        metrics.update(visits.as_dict(f"{name}_visits_"))
    not_probabilities = ("rule",)  # today's rule ranks; calibration measures would mean nothing
    if truth is not None:
        joined = test[["household_id", "gu"]].join(truth, on="household_id")
        known = joined["true_positive"].notna().to_numpy()
        y = joined["true_positive"].to_numpy()[known]
        for name, score in {**scores, "best_possible": joined["best_possible"].to_numpy()}.items():
            metrics.update(
                ranking_metrics(y, score[known], joined["gu"][known], share).as_dict(f"{name}_truth_")
            )
        best = metrics["best_possible_truth_precision_at_capacity"]
        metrics["model_truth_share_of_best_possible"] = metrics["model_truth_precision_at_capacity"] / best
        metrics["model_truth_lift_over_rule"] = metrics["model_truth_precision_at_capacity"] / max(
            metrics["rule_truth_precision_at_capacity"], 1e-9
        )
    return {
        k: v
        for k, v in metrics.items()
        if not (k.startswith(not_probabilities) and k.endswith(("_ece", "_brier")))
    }


@dataclass(frozen=True)
class Reported:
    metrics: dict[str, float]
    lowest_group: str
    top_features: list[str]


def log_reports(
    config: ExperimentConfig,
    rounds: Rounds,
    scores: dict[str, np.ndarray],
    truth: pd.DataFrame | None,
    candidate: Candidate,
    folder: Path,
) -> Reported:
    """Curves, fairness, importance and SHAP on the test round, against the truth when there is one."""
    test = rounds.test
    if truth is not None:
        outcome = test[["household_id"]].join(truth, on="household_id")["true_positive"]
        basis = "truth"
    else:
        outcome, basis = test["label"], "visits"
    known = outcome.notna().to_numpy()
    y = outcome.to_numpy()[known].astype(int)
    rows = test[known].reset_index(drop=True)
    kept = {name: score[known] for name, score in scores.items()}
    selected = top_k_mask(kept["model"], capacity_count(len(y), config.evaluation.capacity_share))
    evaluation, explanation = folder / "evaluation", folder / "explanation"
    evaluation.mkdir()
    explanation.mkdir()
    precision_at_capacity_curve(y, kept, evaluation / "precision_at_capacity.png")
    calibration_plot(y, kept["model"], evaluation / "calibration.png")
    table = fairness_table(y, selected, rows, evaluation / "fairness_by_group.csv")
    min_positives = config.evaluation.min_group_positives
    fairness_chart(table, min_positives, evaluation / "fairness_by_group.png")
    importance = feature_importance(
        candidate.booster, explanation / "feature_importance.csv", explanation / "feature_importance.png"
    )
    shap_summary(
        candidate.booster, test[candidate.features], explanation / "shap_summary.png", seed=config.seed
    )
    metrics: dict[str, float] = {}
    worst = lowest_gated_group(table, min_positives)
    lowest = "no group has enough positives to judge"
    if worst is not None:
        lowest = f"{worst['grouping']}={worst['group']}"
        metrics[f"model_{basis}_min_group_recall_ratio"] = float(worst["recall_ratio"])
        mlflow.set_tag("lowest_group_recall", lowest)
    others = table[(table["grouping"] == "lives_alone") & (table["group"] == "with others")]
    if not others.empty:
        metrics[f"model_{basis}_with_others_recall_ratio"] = float(others["recall_ratio"].iloc[0])
    mlflow.log_artifacts(str(folder))
    return Reported(metrics, lowest, importance["feature"].head(8).tolist())


def _flat_params(config: ExperimentConfig) -> dict[str, object]:
    raw = config.model_dump(mode="json")
    flat: dict[str, object] = {}
    for section, values in raw.items():
        if isinstance(values, dict):
            for key, value in values.items():
                flat[f"{section}.{key}"] = value if not isinstance(value, list) else ",".join(map(str, value))
        else:
            flat[section] = values
    return flat


def _model_requirements() -> list[str]:
    """Pinned to this environment: what loading the LightGBM flavour needs, stated rather than
    inferred (inference imports the model in a subprocess and costs seconds per run)."""
    from importlib.metadata import version  # noqa: PLC0415

    return [f"{name}=={version(name)}" for name in ("mlflow", "lightgbm", "numpy", "pandas", "scipy")]


def train_experiment(data_dir: Path, config: ExperimentConfig, config_path: Path) -> TrainingResult:
    """Run one experiment end to end and record it in MLflow."""
    configure()
    rounds = load_rounds(data_dir, config)
    truth = true_outcomes(data_dir, pd.Timestamp(config.rounds.test))
    with mlflow.start_run(run_name=config.name) as run:
        mlflow.set_tags({"experiment_config": config.name, "label_framing": config.label.framing})
        mlflow.log_params(_flat_params(config))
        mlflow.log_artifact(str(config_path), artifact_path="config")
        for context, frame in (
            ("training", rounds.train),
            ("validation", rounds.validation),
            ("test", rounds.test),
        ):
            mlflow.log_input(mlflow.data.from_pandas(frame, name=f"{config.name}-{context}"), context=context)
        candidate = fit_candidate(config, rounds)
        mlflow.log_params(
            {
                "best_iteration": candidate.booster.current_iteration(),
                "calibrated_on": candidate.calibrated_on,
                "platt_slope": round(candidate.scaling.slope, 6),
                "platt_intercept": round(candidate.scaling.intercept, 6),
            }
        )
        if candidate.visit_noise is not None:
            mlflow.log_metrics(
                {
                    "visit_sensitivity_estimate": candidate.visit_noise.sensitivity,
                    "visit_false_positive_rate_estimate": candidate.visit_noise.false_positive_rate,
                }
            )
        scores = test_scores(config, rounds, candidate)
        metrics = evaluate(config, rounds, scores, truth)
        with tempfile.TemporaryDirectory() as folder:
            reported = log_reports(config, rounds, scores, truth, candidate, Path(folder))
            metrics.update(reported.metrics)
            card = Path(folder) / "model_card.md"
            card.write_text(
                render(
                    CardFacts(
                        run_id=run.info.run_id,
                        config=config,
                        features=candidate.features,
                        calibrated_on=candidate.calibrated_on,
                        visit_sensitivity=candidate.visit_noise.sensitivity
                        if candidate.visit_noise
                        else None,
                        visit_false_positive_rate=(
                            candidate.visit_noise.false_positive_rate if candidate.visit_noise else None
                        ),
                        best_iteration=candidate.booster.current_iteration(),
                        round_sizes={
                            "training": round_sizes(rounds.train),
                            "validation": round_sizes(rounds.validation),
                            "test": round_sizes(rounds.test),
                        },
                        lowest_group=reported.lowest_group,
                        top_features=reported.top_features,
                    ),
                    metrics,
                ),
                encoding="utf-8",
            )
            mlflow.log_artifact(str(card))
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        # Floats throughout: any feature may be missing at scoring time, and an integer column in
        # the signature would make MLflow refuse a request carrying a missing value.
        example = rounds.test[candidate.features].head(5).astype("float64")
        info = mlflow.lightgbm.log_model(
            candidate.booster,
            name="model",
            signature=infer_signature(example, candidate.booster.predict(example)),
            input_example=example,
            registered_model_name=MODEL_NAME,
            pip_requirements=_model_requirements(),
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return TrainingResult(run.info.run_id, version, metrics)
