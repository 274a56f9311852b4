"""One experiment: learn from earlier rounds, stop and calibrate on a later one, report on the latest.

Everything a data scientist needs to compare runs goes to MLflow: the config, parameters, input
datasets, the calibrated LightGBM model (registered as `isolation-risk`), and the test round's
figures of the model and both baselines — estimated from the survey with intervals, as a real city
can, compared on the same survey households with the current champion, and for a synthetic city
also against what a visit to every household would find and against the true state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from anbu.settings import Settings
from features.contract.delivery import ensure_validated
from features.health.delivery import delivery_findings
from features.health.findings import Finding
from features.health.reference import REFERENCE_ARTIFACT, Reference
from features.round_table import build_training_set, survey_calendar, survey_days, survey_sources
from serving.explain.served_model import TreeModel, explanation_refusal
from serving.explain.served_pyfunc import SERVED_ARTIFACT, SERVED_FILE, ServedPyfunc
from synthetic.truth import round_truth
from training.audition import AuditionResult, audition, round_days, rounds_of
from training.baselines import logistic_pipeline, todays_rule_score
from training.config import ConfigError, ExperimentConfig
from training.evaluation import TestRoundEvaluation, evaluate_test_round, rankings
from training.figures import Figures
from training.fitting import Candidate, LabelledRounds, fit_candidate
from training.framing import frame_rows
from training.model_card import CardFacts, render, round_sizes
from training.reports import (
    calibration_plot,
    explained_sample,
    fairness_chart,
    feature_importance,
    precision_at_capacity_curve,
    shap_summary,
    survey_fairness_chart,
)
from training.survey import NotEnoughSurvey, SurveySample, count_provenance, survey_provenance
from training.tracking import CHALLENGER, CHAMPION, EXPLANATION_REFUSED, MODEL_NAME, configure


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    model_version: str
    figures: Figures
    """The test round's figures as logged to the run (read by what they are)."""
    round_findings: dict[str, list[Finding]] = field(default_factory=dict)
    """What the delivery checks of `anbu health` found on each round the model learnt from or was
    judged on (features/health/delivery.py), by round; empty when not asked for."""


def shuffled_labels(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The negative control of Label.shuffled_seed: each round's labels (with whether a survey
    visit gave them, and the survey's own label the calibration reads) permuted together among
    that round's labelled households."""
    rng = np.random.default_rng(seed)
    shuffled = train.copy()
    for _, rows in train[train["label"].notna()].groupby("round_date"):
        order = rng.permutation(len(rows))
        for column in ("label", "label_survey", "survey_label"):
            shuffled.loc[rows.index, column] = rows[column].to_numpy()[order]
    return shuffled


def load_rounds(
    data_dir: Path, config: ExperimentConfig, table: pd.DataFrame | None = None
) -> LabelledRounds:
    """The experiment's rounds, out of `table` when an audition built them already."""
    if table is None:
        table, _ = build_training_set(data_dir, round_days([config.rounds]))
    rounds = rounds_of(table, config.rounds)
    if config.label.shuffled_seed is None:
        return rounds
    return replace(rounds, train=shuffled_labels(rounds.train, config.label.shuffled_seed))


def score_test_round(
    config: ExperimentConfig, rounds: LabelledRounds, candidate: Candidate, known_window_days: int
) -> dict[str, np.ndarray]:
    """Scores of the test round's households by the model and both baselines."""
    test = rounds.test
    numeric = [f for f in candidate.features if f not in candidate.categorical]
    train = frame_rows(rounds.train, config.label, candidate.features, known_window_days)
    logistic = logistic_pipeline(numeric, candidate.categorical, config.seed).fit(
        train.features, train.label, model__sample_weight=train.weight
    )
    return {
        "model": candidate.predict(test),
        "rule": todays_rule_score(test),
        "logistic": logistic.predict_proba(test[candidate.features])[:, 1],
    }


def champion_scores(test: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    """The current champion's version and its scores of the test round, for a paired comparison;
    None when there is no champion yet (or it needs features this round does not have)."""
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
    from serving.scoring.champion import load_served_model  # noqa: PLC0415  (the registry's own reader)
    from serving.scoring.households import feature_matrix  # noqa: PLC0415

    model = load_served_model(client, version)
    if not set(model.features) <= set(test.columns):
        return None
    return str(version.version), model.predict(feature_matrix(test, model.features))


def _calibration_refusal(data_dir: Path, config: ExperimentConfig, error: NotEnoughSurvey) -> ConfigError:
    calendar = survey_calendar(data_dir)
    months = ", ".join(f"{m} ({v:,})" for m, v in zip(calendar["month"], calendar["visits"], strict=True))
    return ConfigError(
        f"validation round {config.rounds.validation}: {error}. Survey visits in this delivery by "
        f"month: {months or 'none at all (no trigger = survey rows)'}"
    )


def _log_reports(
    evaluation: TestRoundEvaluation,
    rounds: LabelledRounds,
    scores: dict[str, np.ndarray],
    candidate: Candidate,
    config: ExperimentConfig,
    folder: Path,
    explainable: bool = True,
) -> list[str]:
    """Curves, fairness tables and charts, importance and SHAP; returns the top features (none for
    a model no exact explanation covers: it is refused at promotion, and its reasons are not shown)."""
    test = rounds.test
    evaluation_dir, explanation = folder / "evaluation", folder / "explanation"
    evaluation_dir.mkdir()
    explanation.mkdir()
    sample = SurveySample.of(test)
    if evaluation.calibration_curve is not None:
        precision_at_capacity_curve(
            sample.found,
            sample.weight,
            sample.positions,
            rankings(test, scores, config.evaluation.allocation),
            evaluation_dir / "precision_at_capacity.png",
        )
        evaluation.calibration_curve.to_csv(evaluation_dir / "calibration_curve.csv", index=False)
        calibration_plot(evaluation.calibration_curve, evaluation_dir / "calibration.png")
    if evaluation.survey_groups is not None:
        evaluation.survey_groups.to_csv(evaluation_dir / "fairness_survey.csv", index=False)
        survey_fairness_chart(evaluation.survey_groups, evaluation_dir / "fairness_survey.png")
    if evaluation.truth_groups is not None:
        evaluation.truth_groups.to_csv(evaluation_dir / "fairness_by_group.csv", index=False)
        fairness_chart(
            evaluation.truth_groups,
            config.evaluation.min_group_positives,
            evaluation_dir / "fairness_by_group.png",
        )
    if not explainable:
        return []
    explained = explained_sample(candidate.model, test[candidate.features], seed=config.seed)
    importance = feature_importance(
        candidate.model,
        explained,
        explanation / "feature_importance.csv",
        explanation / "feature_importance.png",
    )
    shap_summary(explained, explanation / "shap_summary.png")
    return importance["feature"].head(8).tolist()


def _flat_params(config: ExperimentConfig) -> dict[str, object]:
    raw = config.model_dump(mode="json")
    raw.pop("audition", None)  # the grid is in the logged config file and the audition's tables
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


def _log_audition(auditioned: AuditionResult) -> None:
    """Every candidate's figures, fold by fold and pooled, and the choice, beside the run."""
    with tempfile.TemporaryDirectory(prefix="anbu-audition-") as folder:
        auditioned.folds.to_csv(Path(folder) / "folds.csv", index=False)
        auditioned.pooled.to_csv(Path(folder) / "pooled.csv", index=False)
        mlflow.log_artifacts(folder, "audition")
    mlflow.set_tags({"audition.chosen": auditioned.chosen, "audition.rule": auditioned.rule[:4_000]})
    metrics = {}
    for row in auditioned.pooled.itertuples():
        for measure in (
            "pooled",
            "pooled_low",
            "pooled_high",
            "pooled_precision_at_capacity",
            "mean_survey_auc",
            "mean_truth_precision",
        ):
            value = float(getattr(row, measure))
            if np.isfinite(value):
                metrics[f"audition_{row.candidate}_{measure}"] = value
    mlflow.log_metrics(metrics)


def _log_model(candidate: Candidate, example: pd.DataFrame):
    """Register the candidate: a LightGBM model in its own flavour (as before), another family as a
    pyfunc beside the served text anbu loads it from (serving/scoring/champion.py)."""
    signature = infer_signature(example, candidate.predict(example))
    if isinstance(candidate.model, TreeModel):
        return mlflow.lightgbm.log_model(
            candidate.booster,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=MODEL_NAME,
            pip_requirements=_model_requirements(),
        )
    with tempfile.TemporaryDirectory(prefix="anbu-served-") as folder:
        served = Path(folder) / SERVED_FILE
        served.write_text(candidate.model.to_text(), encoding="utf-8")
        mlflow.log_artifact(str(served), SERVED_ARTIFACT)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=ServedPyfunc(),
            artifacts={SERVED_ARTIFACT: str(served)},
            signature=signature,
            input_example=example,
            registered_model_name=MODEL_NAME,
            pip_requirements=[*_model_requirements(), f"scikit-learn=={_version('scikit-learn')}"],
        )


def _version(name: str) -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version(name)


TruthOfRound = Callable[[pd.Timestamp, pd.Series], pd.DataFrame | None]
"""A synthetic city's truth of a round given its survey visit days (synthetic/truth.py:
round_truth's answer), or None for a real city."""


def train_experiment(
    data_dir: Path,
    config: ExperimentConfig,
    config_path: Path,
    settings: Settings,
    truth_of_round: TruthOfRound | None = None,
    check_rounds: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Run one experiment end to end and record it in MLflow. The city's settings say how long a
    finding keeps a household known, for the not-yet-known population
    and the discovery figures, as for the lists the model will serve. The truth figures come from
    the delivery's `_truth/` unless a loop's judge gives them (`truth_of_round`). With
    `check_rounds`, each round's delivery is checked as `anbu health` checks it, and what it
    found is logged (health/training_rounds.json) and returned: a model learns from what a
    delivery was, broken months too."""
    known_window_days = settings.known_window_days
    configure()
    judge = truth_of_round or partial(round_truth, data_dir)
    auditioned = table = None
    if config.audition is not None:
        # One build of every round the folds and the experiment use (they share most of them).
        table, _ = build_training_set(data_dir, round_days([*config.audition.folds, config.rounds]))
        auditioned = audition(
            data_dir,
            config,
            known_window_days,
            lambda day, test: judge(day, survey_days(data_dir, day)),
            progress=progress,
            table=table,
        )
        chosen = next(c for c in config.audition.candidates if c.name == auditioned.chosen)
        config = chosen.applied(config, config.rounds).model_copy(update={"name": config.name})
    rounds = load_rounds(data_dir, config, table)
    del table  # the folds' rounds are not needed again; the fit and its reports hold the city's
    round_findings = training_round_findings(data_dir, config) if check_rounds else {}
    test_date = pd.Timestamp(config.rounds.test)
    truth = judge(test_date, survey_days(data_dir, test_date))
    try:
        candidate = fit_candidate(config, rounds, known_window_days)
    except NotEnoughSurvey as error:
        raise _calibration_refusal(data_dir, config, error) from None
    refusal = explanation_refusal(candidate.model)
    with mlflow.start_run(run_name=config.name) as run:
        mlflow.set_tags({"experiment_config": config.name, "label_framing": config.label.framing})
        if refusal is not None:
            mlflow.set_tag(EXPLANATION_REFUSED, refusal)
        mlflow.log_params({**_flat_params(config), "known_window_days": known_window_days})
        mlflow.log_artifact(str(config_path), artifact_path="config")
        if auditioned is not None:
            _log_audition(auditioned)
        for context, frame in (
            ("training", rounds.train),
            ("validation", rounds.validation),
            ("test", rounds.test),
        ):
            mlflow.log_input(mlflow.data.from_pandas(frame, name=f"{config.name}-{context}"), context=context)
        mlflow.log_params(
            {
                "model_size": candidate.size,
                "calibrated_on": candidate.calibrated_on,
                "platt_slope": round(candidate.scaling.slope, 6),
                "platt_intercept": round(candidate.scaling.intercept, 6),
            }
        )
        mlflow.log_metrics(
            {
                "calibration_survey_households": float(candidate.calibration_households),
                "calibration_survey_positives": float(candidate.calibration_positives),
            }
        )
        if candidate.visit_noise is not None:
            mlflow.log_metrics(
                {
                    "visit_sensitivity_estimate": candidate.visit_noise.sensitivity,
                    "visit_false_positive_rate_estimate": candidate.visit_noise.false_positive_rate,
                }
            )
        scores = score_test_round(config, rounds, candidate, known_window_days)
        # What this model learnt from, for `anbu health` to hold every later round against.
        reference = Reference.of(rounds.train, candidate.features, rounds.test, scores["model"])
        mlflow.log_text(reference.text(), REFERENCE_ARTIFACT)
        if check_rounds:
            mlflow.log_dict(
                {day: [f.as_json() for f in found] for day, found in round_findings.items()},
                "health/training_rounds.json",
            )
        evaluated = config.evaluation
        evaluation = evaluate_test_round(
            rounds.test,
            scores,
            capacity_share=evaluated.capacity_share,
            min_group_survey_positives=evaluated.min_group_survey_positives,
            min_list_survey_households=evaluated.min_list_survey_households,
            min_group_positives=evaluated.min_group_positives,
            truth=truth,
            seed=config.seed,
            known_window_days=known_window_days,
            allocation=evaluated.allocation,
            champion=champion_scores(rounds.test),
            comparison_capacities=tuple(evaluated.comparison_capacities),
        )
        provenance = survey_provenance(rounds.test, survey_sources(data_dir, test_date))
        count_provenance(provenance, evaluation.figures)
        metrics = evaluation.figures.metrics()
        figures = Figures(metrics)
        mlflow.set_tags(evaluation.tags)
        with tempfile.TemporaryDirectory() as folder:
            top_features = _log_reports(
                evaluation, rounds, scores, candidate, config, Path(folder), explainable=refusal is None
            )
            provenance.to_csv(Path(folder) / "evaluation" / "survey_provenance.csv", index=False)
            mlflow.log_artifacts(folder)
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
                        model_size=candidate.size,
                        audition=auditioned,
                        round_sizes={
                            "training": round_sizes(rounds.train),
                            "validation": round_sizes(rounds.validation),
                            "test": round_sizes(rounds.test),
                        },
                        tags=evaluation.tags,
                        top_features=top_features,
                    ),
                    figures,
                ),
                encoding="utf-8",
            )
            mlflow.log_artifact(str(card))
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        # Floats throughout: any feature may be missing at scoring time, and an integer column in
        # the signature would make MLflow refuse a request carrying a missing value.
        example = rounds.test[candidate.features].head(5).astype("float64")
        info = _log_model(candidate, example)
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return TrainingResult(run.info.run_id, version, figures, round_findings)


def training_round_findings(data_dir: Path, config: ExperimentConfig) -> dict[str, list[Finding]]:
    validated = Path(ensure_validated(data_dir).out_dir)
    days = dict.fromkeys([*config.rounds.train, config.rounds.validation, config.rounds.test])
    return {str(pd.Timestamp(day).date()): delivery_findings(validated, pd.Timestamp(day)) for day in days}
