"""A logistic regression over the catalogue's features, held as the service serves it: every feature's
term is a function of that feature alone, so its exact contribution is its term minus the term's
mean over the training rows, and the contributions sum with the base value to the served log-odds.

The model is read out of the scikit-learn pipeline training fits (training/baselines.py:
median imputation with a missing indicator and standardisation for numeric features, -1 for a
missing code and one-hot encoding for categorical ones, then LogisticRegression). A numeric
feature's term is `w·(x̃ − μ)/σ + v·(missing − μ′)/σ′` (x̃ the imputed value; the second part
only when training saw it missing); a categorical feature's term is the weight of its code (0 for
a code training never saw, as the encoder ignores it). Calibration folds in as it does into the
trees: Platt's `slope·z + intercept` scales every weight and moves the intercept.

Values arrive as the service's feature matrix: float64 in the model's feature order, NaN for
missing, categorical codes as numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np
from scipy.special import expit

FAMILY = "logistic"


@dataclass(frozen=True)
class NumericTerm:
    impute: float
    mean: float
    scale: float
    weight: float
    missing_mean: float = 0.0
    missing_scale: float = 1.0
    missing_weight: float = 0.0
    """The missing indicator's part: zero weight when training never saw the feature missing."""

    def of(self, values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        filled = np.where(missing, self.impute, values)
        term = self.weight * ((filled - self.mean) / self.scale)
        return term + self.missing_weight * (
            (missing.astype(np.float64) - self.missing_mean) / self.missing_scale
        )


@dataclass(frozen=True)
class CategoricalTerm:
    weights: dict[float, float]
    """Code -> weight; a missing code counts as -1, a code training never saw weighs 0."""

    def of(self, values: np.ndarray) -> np.ndarray:
        codes = np.where(np.isnan(values), -1.0, values)
        known = np.array(sorted(self.weights), dtype=np.float64)
        weight = np.array([self.weights[c] for c in known], dtype=np.float64)
        at = np.clip(np.searchsorted(known, codes), 0, max(len(known) - 1, 0))
        found = (known[at] == codes) if len(known) else np.zeros(len(codes), dtype=bool)
        return np.where(found, weight[at] if len(known) else 0.0, 0.0)


@numba.njit(parallel=True, cache=True)
def _numeric_terms(
    values, columns, impute, mean, scale, weight, missing_mean, missing_scale, missing_weight, out
):
    """Compiled; held to NumericTerm.of bit for bit by tests/serving/explain/test_linear.py."""
    for i in numba.prange(values.shape[0]):
        for k in range(len(columns)):
            j = columns[k]
            x = values[i, j]
            missing = np.isnan(x)
            filled = impute[k] if missing else x
            indicator = 1.0 if missing else 0.0
            out[i, j] = weight[k] * ((filled - mean[k]) / scale[k]) + missing_weight[k] * (
                (indicator - missing_mean[k]) / missing_scale[k]
            )


@dataclass(frozen=True)
class LinearScore:
    """Log-odds = intercept + Σ terms; contributions are each term minus its training mean."""

    features: list[str]
    terms: dict[str, NumericTerm | CategoricalTerm]
    """A feature training dropped (missing in every training row) has no term: it contributes 0."""
    intercept: float
    term_means: dict[str, float] = field(default_factory=dict)
    """Each term's mean over the training rows: the baseline its contribution is measured from."""
    family: str = FAMILY

    @cached_property
    def _numeric(self) -> tuple[np.ndarray, ...]:
        """The numeric terms side by side (their columns, then each parameter as a vector), for the
        compiled pass over a block of households (`_numeric_terms`)."""
        columns = [j for j, name in enumerate(self.features) if isinstance(self.terms.get(name), NumericTerm)]
        terms = [self.terms[self.features[j]] for j in columns]
        return (
            np.array(columns, dtype=np.intp),
            *(
                np.array([getattr(t, part) for t in terms], dtype=np.float64)
                for part in (
                    "impute",
                    "mean",
                    "scale",
                    "weight",
                    "missing_mean",
                    "missing_scale",
                    "missing_weight",
                )
            ),
        )

    def term_matrix(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Each feature's term, household by feature, into `out` when given (NumericTerm.of and
        CategoricalTerm.of; the numeric ones in one compiled pass with the same operations in the
        same order: as array operations they cost Seoul's round a quarter of its scoring time)."""
        values = np.asarray(values, dtype=np.float64)
        if out is None:
            out = np.zeros(values.shape, dtype=np.float64)
        else:
            out[...] = 0.0
        if len(self._numeric[0]):
            _numeric_terms(values, *self._numeric, out)
        for j, name in enumerate(self.features):
            term = self.terms.get(name)
            if isinstance(term, CategoricalTerm):
                out[:, j] = term.of(values[:, j])
        return out

    def warm(self) -> None:
        """The numeric terms' arrays and compiled pass made ready (serving/explain/served_model.py)."""
        self.term_matrix(np.full((1, len(self.features)), np.nan))

    def raw_score(self, values: np.ndarray) -> np.ndarray:
        """The log-odds."""
        return self.intercept + self.term_matrix(values).sum(axis=1)

    def predict(self, values: np.ndarray) -> np.ndarray:
        return expit(self.raw_score(values))

    @property
    def expected_value(self) -> float:
        return self.intercept + sum(self.term_means.get(name, 0.0) for name in self.features)

    def contributions(self, values: np.ndarray) -> np.ndarray:
        """[households, features + 1]: each feature's contribution to the log-odds, then the base
        value (the layout of LightGBM's pred_contrib and serving/explain/tree_shap.py)."""
        values = np.asarray(values, dtype=np.float64)
        means = np.array([self.term_means.get(name, 0.0) for name in self.features], dtype=np.float64)
        out = np.empty((values.shape[0], values.shape[1] + 1), dtype=np.float64)
        self.term_matrix(values, out[:, :-1])
        out[:, :-1] -= means
        out[:, -1] = self.expected_value
        return out

    def calibrated(self, slope: float, intercept: float) -> LinearScore:
        """The model whose log-odds are `slope · z + intercept` of this one's (Platt scaling)."""
        terms: dict[str, NumericTerm | CategoricalTerm] = {}
        for name, term in self.terms.items():
            if isinstance(term, NumericTerm):
                terms[name] = NumericTerm(
                    term.impute,
                    term.mean,
                    term.scale,
                    term.weight * slope,
                    term.missing_mean,
                    term.missing_scale,
                    term.missing_weight * slope,
                )
            else:
                terms[name] = CategoricalTerm({c: w * slope for c, w in term.weights.items()})
        return LinearScore(
            list(self.features),
            terms,
            self.intercept * slope + intercept,
            {name: mean * slope for name, mean in self.term_means.items()},
        )

    # --- as text, beside a booster's model string ------------------------------------------

    def to_text(self) -> str:
        def term(t: NumericTerm | CategoricalTerm) -> dict:
            if isinstance(t, NumericTerm):
                return {"kind": "numeric", **t.__dict__}
            return {"kind": "categorical", "weights": [[c, w] for c, w in sorted(t.weights.items())]}

        return json.dumps(
            {
                "family": self.family,
                "features": self.features,
                "intercept": self.intercept,
                "terms": {name: term(t) for name, t in self.terms.items()},
                "term_means": self.term_means,
            },
            allow_nan=False,
        )

    @classmethod
    def from_text(cls, text: str) -> LinearScore:
        document = json.loads(text)
        if document.get("family") != FAMILY:
            raise ValueError(f"not a {FAMILY} model: family {document.get('family')!r}")
        terms: dict[str, NumericTerm | CategoricalTerm] = {}
        for name, t in document["terms"].items():
            kind = t.pop("kind")
            terms[name] = (
                NumericTerm(**t)
                if kind == "numeric"
                else CategoricalTerm({float(c): float(w) for c, w in t["weights"]})
            )
        return cls(document["features"], terms, float(document["intercept"]), document["term_means"])


def from_pipeline(pipeline, features: list[str], categorical: list[str], training: np.ndarray) -> LinearScore:
    """The LinearScore of a fitted training/baselines.py logistic pipeline. `training`: the rows it was
    fitted on (float64, `features` order), for each term's mean."""
    preprocess, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    weights = np.asarray(model.coef_[0], dtype=np.float64)
    terms: dict[str, NumericTerm | CategoricalTerm] = {}
    at = 0
    for name, transformer, columns in preprocess.transformers_:
        if len(columns) == 0:
            continue  # scikit-learn leaves a step with no columns unfitted
        if name == "numeric":
            imputer, scaler = transformer.steps[0][1], transformer.steps[1][1]
            kept = [c for c, v in zip(columns, imputer.statistics_, strict=True) if not np.isnan(v)]
            impute = dict(zip(columns, imputer.statistics_, strict=True))
            indicated = [columns[i] for i in imputer.indicator_.features_] if imputer.indicator_ else []
            width = len(kept) + len(indicated)
            mean, scale = scaler.mean_, scaler.scale_
            for k, column in enumerate(kept):
                terms[column] = NumericTerm(
                    float(impute[column]), float(mean[k]), float(scale[k]), float(weights[at + k])
                )
            for k, column in enumerate(indicated):
                i = len(kept) + k
                base = terms.get(column)
                terms[column] = NumericTerm(
                    base.impute if base else 0.0,
                    base.mean if base else 0.0,
                    base.scale if base else 1.0,
                    base.weight if base else 0.0,
                    float(mean[i]),
                    float(scale[i]),
                    float(weights[at + i]),
                )
            at += width
        elif name == "categorical":
            encoder = transformer.steps[-1][1]
            for column, categories in zip(columns, encoder.categories_, strict=True):
                terms[column] = CategoricalTerm(
                    {
                        float(c): float(w)
                        for c, w in zip(categories, weights[at : at + len(categories)], strict=True)
                    }
                )
                at += len(categories)
        elif name != "remainder":
            raise ValueError(f"unexpected step {name!r} in the logistic pipeline")
    if at != len(weights):
        raise ValueError(f"the pipeline's {len(weights)} weights do not match its {at} encoded columns")
    draft = LinearScore(list(features), terms, float(model.intercept_[0]))
    means = draft.term_matrix(training).mean(axis=0)
    return LinearScore(
        list(features),
        terms,
        draft.intercept,
        {name: float(means[j]) for j, name in enumerate(features) if name in terms},
    )
