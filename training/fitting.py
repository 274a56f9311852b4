"""The candidate model: its family fitted (training/families.py: LightGBM stopped early on the
validation round, a logistic regression, or trees boosted from it), calibration folded in.

The served score must mean what the contract says: the probability that a visit in the 90 days
after the round finds the household isolated or at risk, for every registered household. Visits
that follow a list or an alert cannot estimate that (they go where trouble is suspected), so the
default calibration is fitted on survey visits only: the validation round's, scored by the model,
and the training rounds', scored by models that did not learn from those households (cross-fitting
by household), which triples the evidence without letting the model grade its own homework.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from serving.explain.served_model import ServedModel, TreeModel
from serving.scoring.households import feature_matrix
from training.calibration import PlattScaling, VisitNoiseScaling
from training.config import ExperimentConfig
from training.families import FamilyFit, fit_family, lightgbm_params
from training.framing import categorical_features, frame_rows, model_features
from training.survey import NotEnoughSurvey, SurveySample

SLOPE_Z = 1.645
"""The calibration slope must be this many standard errors above zero (one-sided 95 %)."""


@dataclass(frozen=True)
class LabelledRounds:
    """The labelled rounds of one experiment, each a training-set table."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class Candidate:
    model: ServedModel
    """Calibrated: predict() is the probability of a positive finding in the next 90 days."""
    features: list[str]
    categorical: list[str]
    scaling: PlattScaling
    calibrated_on: str
    calibration_households: int
    calibration_positives: int
    visit_noise: VisitNoiseScaling | None = None
    """Estimated visit error rates, when calibrated to a latent state through them."""
    size: str = ""
    """The fitted model in a few words, for the model card."""

    @property
    def booster(self) -> lgb.Booster:
        """The booster of a LightGBM candidate (the tree-only reports)."""
        if not isinstance(self.model, TreeModel):
            raise TypeError(f"a {self.model.family} candidate has no LightGBM booster")
        return self.model.booster

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """Calibrated risks of a table's rows (its model features by name)."""
        return self.model.predict(feature_matrix(table, self.features))


__all__ = ["Candidate", "LabelledRounds", "fit_candidate", "lightgbm_params"]


def fit_candidate(config: ExperimentConfig, rounds: LabelledRounds, known_window_days: int) -> Candidate:
    """The experiment's model family fitted (early stopping on the validation round for trees), then
    calibration folded into it."""
    chosen = model_features(config)
    features = [f.name for f in chosen]
    categorical = categorical_features(chosen)
    train = frame_rows(rounds.train, config.label, features, known_window_days)
    valid = frame_rows(rounds.validation, config.label, features, known_window_days)
    fitted = fit_family(config, train, valid, features, categorical)
    if config.calibration.method == "sigmoid_visit_noise":
        return _visit_noise_candidate(fitted, features, categorical, rounds.validation)
    raw, found, weights, described = _survey_evidence(config, rounds, fitted, features, known_window_days)
    calibration = config.calibration
    if len(found) < calibration.min_survey_households or found.sum() < calibration.min_survey_positives:
        raise NotEnoughSurvey(
            f"calibration needs at least {calibration.min_survey_households} survey-visited households "
            f"with {calibration.min_survey_positives} found isolated or at risk; {described} give "
            f"{len(found)} with {int(found.sum())}. Put the validation round so that a screening sweep "
            "falls in the 90 days after it"
        )
    weights = weights / weights.mean()
    scaling = PlattScaling.fit(raw, found.astype(int), weight=weights)
    require_ranking_seen(scaling, raw, found, weights, described)
    return Candidate(
        fitted.served(scaling),
        features,
        categorical,
        scaling,
        f"survey visits: {described}",
        len(found),
        int(found.sum()),
        size=fitted.size,
    )


def require_ranking_seen(
    scaling: PlattScaling, raw: np.ndarray, found: np.ndarray, weights: np.ndarray, described: str
) -> None:
    """Refuse a calibration whose slope the survey cannot tell from zero (or finds below it): it
    would flatten or reverse the list, where the model's ranking was the one thing that held."""
    spread = scaling.slope_standard_error(raw, weights)
    if not scaling.slope > SLOPE_Z * spread:
        raise NotEnoughSurvey(
            f"the survey visits do not show that higher scores are found more often (calibration "
            f"slope {scaling.slope:.2f} ± {spread:.2f} on {len(found)} survey-visited households, "
            f"{int(found.sum())} positive, from {described}); calibrating on them would flatten or "
            "reverse the ranking. More survey visits are needed: place the validation round before a "
            "sweep, or keep the training rounds' sweeps in (calibration.cross_fit_folds)"
        )


def _survey_evidence(
    config: ExperimentConfig,
    rounds: LabelledRounds,
    fitted: FamilyFit,
    features: list[str],
    known_window_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Raw scores, survey findings and survey weights the calibration is fitted on."""
    validation = SurveySample.of(rounds.validation)
    rows = rounds.validation.iloc[validation.positions]
    raw = [fitted.raw(rows) if len(rows) else np.zeros(0)]
    found, weights = [validation.found], [validation.weight]
    described = f"the validation round's {validation.households}"
    if config.calibration.cross_fit_folds >= 2:
        surveyed = out_of_fold_survey_scores(config, rounds.train, fitted, known_window_days)
        if surveyed is not None:
            oof_raw, oof_found, oof_weight = surveyed
            raw.append(oof_raw)
            found.append(oof_found)
            weights.append(oof_weight)
            described += f" and the training rounds' {len(oof_found)} (scored out of fold)"
    return np.concatenate(raw), np.concatenate(found), np.concatenate(weights), described


def out_of_fold_survey_scores(
    config: ExperimentConfig, train: pd.DataFrame, fitted: FamilyFit, known_window_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Raw scores of the training rounds' survey-visited households, each from a model trained
    without that household (folds by household id; the same family and size as the final model).

    A model's scores on rows it learnt from are more confident than on new rows, so calibrating
    on them would make the served probabilities overconfident; out-of-fold scores behave like the
    scores of a new round.
    """
    features = [f.name for f in model_features(config)]
    folds = config.calibration.cross_fit_folds
    surveyed = train["survey_label"].notna().to_numpy()
    if not surveyed.any():
        return None
    household_fold = _fold_of(train["household_id"], folds, config.seed)
    raw = np.full(len(train), np.nan)
    for fold in range(folds):
        held_out = household_fold == fold
        rows = frame_rows(train[~held_out], config.label, features, known_window_days)
        scored = held_out & surveyed
        raw[scored] = fitted.refit(rows)(train.loc[scored])
    # Each round's survey weights are its own (households of that round per surveyed household).
    weights = np.zeros(len(train))
    for _, frame in train.groupby("round_date", sort=True):
        sample = SurveySample.of(frame)
        weights[frame.index.to_numpy()[sample.positions]] = sample.weight
    return raw[surveyed], train["survey_label"].to_numpy(dtype=float)[surveyed], weights[surveyed]


def _fold_of(household_ids: pd.Series, folds: int, seed: int) -> np.ndarray:
    """A fold per household (the same in every round), reproducible from the seed."""
    codes, uniques = pd.factorize(household_ids)
    assignment = np.random.default_rng(seed).permutation(len(uniques)) % folds
    return assignment[codes]


def _visit_noise_candidate(
    fitted: FamilyFit, features: list[str], categorical: list[str], validation: pd.DataFrame
) -> Candidate:
    # Experiment: every visit measures the same way whatever sent the team, so all visits inform
    # the fit; a city where list visits find fewer people at home breaks that assumption.
    labelled = validation[validation["label"].notna()]
    noise = VisitNoiseScaling.fit(fitted.raw(labelled), labelled["label"].to_numpy(dtype=int))
    return Candidate(
        fitted.served(noise.scaling),
        features,
        categorical,
        noise.scaling,
        "validation-round visits, through the visits' error rates",
        len(labelled),
        int(labelled["label"].sum()),
        noise,
        size=fitted.size,
    )
