"""Fitting each model family anbu can serve with exact reasons, up to its calibration.

A family's fit gives its raw log-odds (what Platt scaling is fitted on), a refit on other rows
for the out-of-fold scores calibration also reads (the same size of model: a tree model keeps the
number of trees early stopping chose), and, once the calibration is known, the served model with
the calibration folded in (serving/explain/served_model.py). training/fitting.py does the rest the
same way for every family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from serving.explain.linear import from_pipeline
from serving.explain.served_model import FAMILY_LINEAR_AND_TREES, LinearPlusTrees, ServedModel, TreeModel
from serving.scoring.households import feature_matrix
from training.baselines import logistic_pipeline
from training.calibration import PlattScaling, fold_into_booster
from training.config import FAMILIES, ExperimentConfig
from training.framing import TrainingRows

RawScorer = Callable[[pd.DataFrame], np.ndarray]
"""Raw log-odds of the rows of a table (its model features by name)."""


@dataclass(frozen=True)
class FamilyFit:
    raw: RawScorer
    refit: Callable[[TrainingRows], RawScorer]
    """The same family and size fitted on other rows (out-of-fold calibration scores)."""
    served: Callable[[PlattScaling], ServedModel]
    """The served model with this calibration folded in."""
    size: str
    """The fitted model in a few words, for the model card ("LightGBM, 212 trees")."""


def lightgbm_params(config: ExperimentConfig) -> tuple[dict, int, int]:
    """LightGBM parameters, the most trees, and the early-stopping patience of an experiment."""
    params = config.lightgbm.model_dump()
    most = params.pop("n_estimators")
    patience = params.pop("early_stopping_rounds")
    params.update(objective="binary", verbose=-1, seed=config.seed, deterministic=True, num_threads=2)
    return params, most, patience


def _dataset(rows: TrainingRows, categorical: list[str], init_score: np.ndarray | None = None) -> lgb.Dataset:
    return lgb.Dataset(
        rows.features, rows.label, weight=rows.weight, categorical_feature=categorical, init_score=init_score
    )


def _trees(
    config: ExperimentConfig,
    train: TrainingRows,
    valid: TrainingRows,
    categorical: list[str],
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> lgb.Booster:
    """LightGBM with early stopping on the validation rows (boosted from `start`'s scores, if given);
    a patience of at least the number of trees asks for that many trees, without early stopping."""
    params, most, patience = lightgbm_params(config)
    if patience >= most:
        return lgb.train(
            params, _dataset(train, categorical, start[0] if start else None), num_boost_round=most
        )
    return lgb.train(
        params,
        _dataset(train, categorical, start[0] if start else None),
        num_boost_round=most,
        valid_sets=[_dataset(valid, categorical, start[1] if start else None)],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )


def _trees_used(booster: lgb.Booster) -> int:
    """The trees the model serves: early stopping's choice, else every tree grown."""
    return booster.best_iteration or booster.current_iteration()


def _refit_trees(
    config: ExperimentConfig, rows: TrainingRows, categorical: list[str], iterations: int, start=None
) -> lgb.Booster:
    """As many trees as early stopping chose, on other rows, without a validation round."""
    params, _, _ = lightgbm_params(config)
    return lgb.train(params, _dataset(rows, categorical, start), num_boost_round=max(iterations, 1))


def _logistic(config: ExperimentConfig, features: list[str], categorical: list[str], rows: TrainingRows):
    numeric = [f for f in features if f not in categorical]
    return logistic_pipeline(numeric, categorical, config.seed, config.model.logistic_c).fit(
        rows.features, rows.label, model__sample_weight=rows.weight
    )


def fit_family(
    config: ExperimentConfig,
    train: TrainingRows,
    valid: TrainingRows,
    features: list[str],
    categorical: list[str],
) -> FamilyFit:
    family = config.model.family
    if family == "lightgbm":
        booster = _trees(config, train, valid, categorical)
        best = booster.best_iteration or None

        def refit_trees(rows: TrainingRows) -> RawScorer:
            trees = _refit_trees(config, rows, categorical, _trees_used(booster))
            return lambda table: trees.predict(table[features], raw_score=True)

        return FamilyFit(
            raw=lambda table: booster.predict(table[features], raw_score=True, num_iteration=best),
            refit=refit_trees,
            served=lambda scaling: TreeModel(fold_into_booster(booster, scaling)),
            size=f"LightGBM, {_trees_used(booster)} trees",
        )
    if family == "logistic":
        pipeline = _logistic(config, features, categorical, train)
        training_values = feature_matrix(train.features, features)
        return FamilyFit(
            raw=lambda table: pipeline.decision_function(table[features]),
            refit=lambda rows: _logistic(config, features, categorical, rows).decision_function,
            served=lambda scaling: from_pipeline(pipeline, features, categorical, training_values).calibrated(
                scaling.slope, scaling.intercept
            ),
            size=f"logistic regression, {len(features)} features (C = {config.model.logistic_c})",
        )
    if family == "logistic_plus_trees":
        pipeline = _logistic(config, features, categorical, train)
        linear = from_pipeline(pipeline, features, categorical, feature_matrix(train.features, features))

        def start(table: pd.DataFrame) -> np.ndarray:
            return linear.raw_score(feature_matrix(table, features))

        booster = _trees(config, train, valid, categorical, (start(train.features), start(valid.features)))
        best = booster.best_iteration or None

        def refit(rows: TrainingRows) -> RawScorer:
            values = feature_matrix(rows.features, features)
            own = from_pipeline(_logistic(config, features, categorical, rows), features, categorical, values)
            trees = _refit_trees(config, rows, categorical, _trees_used(booster), own.raw_score(values))
            return lambda table: (
                own.raw_score(feature_matrix(table, features))
                + trees.predict(table[features], raw_score=True)
            )

        return FamilyFit(
            raw=lambda table: (
                start(table) + booster.predict(table[features], raw_score=True, num_iteration=best)
            ),
            refit=refit,
            served=lambda scaling: LinearPlusTrees(
                linear.calibrated(scaling.slope, scaling.intercept),
                TreeModel(fold_into_booster(booster, PlattScaling(scaling.slope, 0.0))),
            ),
            size=f"logistic regression plus LightGBM boosted from it, {_trees_used(booster)} trees",
        )
    if family == "logistic_and_trees":
        return _logistic_and_trees(config, train, valid, features, categorical)
    raise ValueError(f"model.family {family!r}: the families are {', '.join(FAMILIES)}")


def _logistic_and_trees(
    config: ExperimentConfig,
    train: TrainingRows,
    valid: TrainingRows,
    features: list[str],
    categorical: list[str],
) -> FamilyFit:
    """The mean of a logistic regression's and LightGBM's log-odds, each fitted on its own rows and
    put on the scale of the validation round's outcomes first (each part's raw score times half its
    slope there: trees' raw scores are often more confident than a regularised regression's, and an
    unscaled mean would lean on whichever is).

    Neither family ranks best on every city, nor on every round of one city, and the survey of a
    round is rarely enough to say which will; the mean hedges between them (experiments/audition.md).
    Served exactly as a sum, each part carrying its half of the mean, calibration folded into both."""
    pipeline = _logistic(config, features, categorical, train)
    linear = from_pipeline(pipeline, features, categorical, feature_matrix(train.features, features))
    booster = _trees(config, train, valid, categorical)
    best = booster.best_iteration or None
    linear_scale = 0.5 * _outcome_slope(pipeline.decision_function(valid.features[features]), valid)
    trees_scale = 0.5 * _outcome_slope(
        booster.predict(valid.features[features], raw_score=True, num_iteration=best), valid
    )

    def refit(rows: TrainingRows) -> RawScorer:
        own = _logistic(config, features, categorical, rows)
        trees = _refit_trees(config, rows, categorical, _trees_used(booster))
        return lambda table: (
            linear_scale * own.decision_function(table[features])
            + trees_scale * trees.predict(table[features], raw_score=True)
        )

    return FamilyFit(
        raw=lambda table: (
            linear_scale * pipeline.decision_function(table[features])
            + trees_scale * booster.predict(table[features], raw_score=True, num_iteration=best)
        ),
        refit=refit,
        served=lambda scaling: LinearPlusTrees(
            linear.calibrated(linear_scale * scaling.slope, scaling.intercept),
            TreeModel(fold_into_booster(booster, PlattScaling(trees_scale * scaling.slope, 0.0))),
            FAMILY_LINEAR_AND_TREES,
        ),
        size=f"mean of a logistic regression and LightGBM, {_trees_used(booster)} trees",
    )


def _outcome_slope(raw: np.ndarray, rows: TrainingRows) -> float:
    """The slope of the rows' outcomes on a raw score (a weighted one-feature logistic fit): how far
    one unit of this model's log-odds goes in the outcomes' own; 1 when the rows cannot say (no
    outcome varies), 0 when the outcomes do not rise with the score (that part then adds nothing,
    and a mean of two such parts is refused by calibration's slope check)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    label = np.asarray(rows.label, dtype=float)
    if len(label) == 0 or label.min() == label.max():
        return 1.0
    fit = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), label, sample_weight=rows.weight)
    slope = float(fit.coef_[0, 0])
    return max(slope, 0.0)
