"""A model of a family MLflow has no flavour for, registered as a pyfunc: the registry holds a
loadable model whatever family serves, and MLflow users get probabilities from it (not labels).

anbu itself reads the served text beside it (serving/scoring/champion.py: load_served_model), so
the service never depends on pickling; the pyfunc is for the registry's other readers.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from serving.explain.served_model import model_from_text

SERVED_ARTIFACT = "served_model"
"""The name of the served text, in the pyfunc's artifacts and in the run's artifacts."""
SERVED_FILE = "served_model.txt"


class ServedPyfunc(mlflow.pyfunc.PythonModel):
    """predict(DataFrame of the model's features) -> the calibrated probability of each row."""

    def load_context(self, context) -> None:
        self.model = model_from_text(Path(context.artifacts[SERVED_ARTIFACT]).read_text(encoding="utf-8"))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        values = model_input[self.model.features].to_numpy(dtype="float64", na_value=np.nan)
        return self.model.predict(values)
