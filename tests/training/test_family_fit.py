"""A tree candidate of a fixed size grows every tree asked for, and its out-of-fold refits are as
large as it is (a refit of one tree would calibrate on a different model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.calibration import PlattScaling
from training.config import LightGBMParams, load_experiment
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
