"""A tree candidate of a fixed size grows every tree asked for, and its out-of-fold refits are as
large as it is (a refit of one tree would calibrate on a different model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.calibration import PlattScaling
from training.config import FAMILIES, LightGBMParams, ModelChoice, load_experiment
from training.families import fit_family
from training.framing import TrainingRows

BASELINE = Path(__file__).parents[2] / "experiments" / "baseline.toml"
FEATURES = ["age", "household_size"]


def _rows(n: int, seed: int) -> TrainingRows:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"age": rng.integers(20, 95, n).astype(float), "household_size": rng.integers(1, 5, n).astype(float)}
    )
    label = rng.random(n) < 1 / (1 + np.exp(-(0.05 * (frame["age"] - 60) - 2)))
    return TrainingRows(frame, label.astype(float), np.ones(n))


def test_a_patience_as_long_as_the_trees_means_that_many_trees_and_refits_of_that_size() -> None:
    base = load_experiment(BASELINE)
    config = base.model_copy(
        update={
            "lightgbm": LightGBMParams(
                **{**base.lightgbm.model_dump(), "n_estimators": 30, "early_stopping_rounds": 30}
            )
        }
    )
    fitted = fit_family(config, _rows(3_000, 1), _rows(1_000, 2), FEATURES, [])
    assert fitted.size == "LightGBM, 30 trees"
    served = fitted.served(PlattScaling(1.0, 0.0))
    assert served.booster.num_trees() == 30
    table = _rows(500, 3).features
    refit = fitted.refit(_rows(3_000, 1))
    # The same rows and the same size: the refit is the model itself (LightGBM is deterministic here).
    assert np.abs(refit(table) - fitted.raw(table)).max() < 1e-9


def _rich_rows(n: int, seed: int) -> TrainingRows:
    """Rows with a feature often missing and an integer-coded category, as the catalogue's are."""
    rows = _rows(n, seed)
    rng = np.random.default_rng(seed + 100)
    crisis = rng.poisson(1.0, n).astype(float)
    crisis[rng.random(n) < 0.3] = np.nan
    frame = rows.features.assign(crisis_count=crisis, housing_code=rng.integers(0, 4, n).astype(float))
    return TrainingRows(frame, rows.label, rows.weight)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_serves_the_calibration_of_its_own_raw_score(family: str) -> None:
    """The served model is the fitted one with Platt's scaling folded in: for the mean of the
    logistic and the trees, each half carries half the slope and the linear part the intercept."""
    base = load_experiment(BASELINE)
    config = base.model_copy(update={"model": ModelChoice(family=family)})
    features = [*FEATURES, "crisis_count", "housing_code"]
    fitted = fit_family(config, _rich_rows(3_000, 1), _rich_rows(1_000, 2), features, ["housing_code"])
    scaling = PlattScaling(0.8, -0.3)
    served = fitted.served(scaling)
    table = _rich_rows(500, 3).features
    values = table[features].to_numpy(dtype=np.float64)
    expected = 1 / (1 + np.exp(-(0.8 * fitted.raw(table) - 0.3)))
    assert served.family == family
    assert np.abs(served.predict(values) - expected).max() < 1e-9
    contributions = served.contributions(values)
    assert np.abs(contributions.sum(axis=1) - (0.8 * fitted.raw(table) - 0.3)).max() < 1e-9
