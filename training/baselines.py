"""The two rankings a new model has to beat, scored in the same experiment.

Today's rule is what the national system does now: more distinct crisis indicators first, the
most recent report breaking ties. The logistic regression is the simplest honest model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def todays_rule_score(table: pd.DataFrame) -> np.ndarray:
    """Distinct indicators in the last 12 months, ties broken by recency of the latest report."""
    distinct = table["crisis_distinct_12m"].fillna(0).to_numpy(dtype=float)
    days = table["crisis_days_since_last"].fillna(10_000).to_numpy(dtype=float)
    return distinct + 1.0 / (2.0 + days)  # the tie-break term never outweighs one more indicator


def logistic_pipeline(numeric: list[str], categorical: list[str], seed: int, c: float = 0.5) -> Pipeline:
    """Impute, scale, one-hot the categorical codes, and a balanced-enough logistic regression."""
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    return Pipeline(
        [("preprocess", preprocess), ("model", LogisticRegression(max_iter=2000, C=c, random_state=seed))]
    )
