"""A LightGBM model's trees as flat arrays, read from the model text LightGBM itself writes.

The exact explainer (serving/explain/tree_shap.py) needs every split (feature, threshold, missing-value
rule, category set), every child link, and the training counts LightGBM's tree SHAP weighs by.
The model text carries all of them at full precision (thresholds round-trip), so a split is
decided here exactly as LightGBM's `Tree::NumericalDecision` / `CategoricalDecision` decide it.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

ZERO_THRESHOLD = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold (1e-35f): a value this close to zero is dropped when LightGBM reads a
row, i.e. predicted as exactly 0."""

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2


class UnsupportedModel(ValueError):
    """A model no exact explanation covers (several classes, linear trees): refused, never approximated."""


SEVERAL_CLASSES = (
    "it grows several trees per iteration (several classes), and a served risk is explained as one"
)
LINEAR_TREES = "its trees are linear (linear_tree): each leaf is a linear model, which tree SHAP leaves out"


def refusal_of(booster: lgb.Booster, text: str | None = None) -> str | None:
    """Why no exact explanation covers the booster, without reading its trees into arrays.
    `text`: its model text, when the caller has written it already."""
    if booster.num_model_per_iteration() != 1:
        return SEVERAL_CLASSES
    text = booster.model_to_string() if text is None else text
    return LINEAR_TREES if "\nis_linear=1" in text else None


@dataclass(frozen=True)
class Forest:
    """All trees, concatenated. Tree t owns splits `split_offset[t]:split_offset[t+1]` and leaves
    `leaf_offset[t]:leaf_offset[t+1]`; child links are tree-local as in LightGBM (a negative
    child c is leaf ~c)."""

    features: int
    split_offset: np.ndarray  # int64[T+1]
    leaf_offset: np.ndarray  # int64[T+1]
    feature: np.ndarray  # int64[S]
    threshold: np.ndarray  # float64[S]
    default_left: np.ndarray  # bool[S]
    missing_type: np.ndarray  # int64[S]
    categorical: np.ndarray  # bool[S]
    category_offset: np.ndarray  # int64[S+1]: the split's bitset words in `category_bits`
    category_bits: np.ndarray  # uint32[...]
    left: np.ndarray  # int64[S]
    right: np.ndarray  # int64[S]
    split_count: np.ndarray  # float64[S]: training rows reaching the split
    leaf_value: np.ndarray  # float64[L]
    leaf_count: np.ndarray  # float64[L]

    @property
    def trees(self) -> int:
        return len(self.split_offset) - 1

    @classmethod
    def of(cls, booster: lgb.Booster) -> Forest:
        text = booster.model_to_string()
        refusal = refusal_of(booster, text)
        if refusal is not None:
            raise UnsupportedModel(refusal)
        return parse_model_text(text, booster.num_feature())


def _numbers(fields: dict[str, str], key: str, dtype) -> np.ndarray:
    text = fields.get(key, "").strip()
    return np.array(text.split(), dtype=dtype) if text else np.array([], dtype=dtype)


def parse_model_text(text: str, features: int) -> Forest:
    """The `Tree=` blocks of LightGBM's model text, in order."""
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in [
            "feature",
            "threshold",
            "default_left",
            "missing",
            "categorical",
            "left",
            "right",
            "split_count",
            "leaf_value",
            "leaf_count",
            "category_bits",
        ]
    }
    split_offset, leaf_offset, category_offset = [0], [0], [0]
    for block in text.split("\nTree=")[1:]:
        body = block.split("\n\n", 1)[0]
        fields = dict(line.split("=", 1) for line in body.splitlines()[1:] if "=" in line)
        leaves = int(fields["num_leaves"])
        leaf_value = _numbers(fields, "leaf_value", np.float64)
        leaf_count = (
            _numbers(fields, "leaf_count", np.float64) if leaves > 1 else np.ones(1, dtype=np.float64)
        )
        parts["leaf_value"].append(leaf_value)
        parts["leaf_count"].append(leaf_count)
        leaf_offset.append(leaf_offset[-1] + leaves)
        if leaves <= 1:
            split_offset.append(split_offset[-1])
            continue
        decision = _numbers(fields, "decision_type", np.int64)
        threshold = _numbers(fields, "threshold", np.float64)
        is_categorical = (decision & 1).astype(bool)
        boundaries = _numbers(fields, "cat_boundaries", np.int64)
        bits = _numbers(fields, "cat_threshold", np.uint32)
        for split in range(len(decision)):
            words = np.array([], dtype=np.uint32)
            if is_categorical[split]:
                index = int(threshold[split])
                words = bits[boundaries[index] : boundaries[index + 1]]
            parts["category_bits"].append(words)
            category_offset.append(category_offset[-1] + len(words))
        parts["feature"].append(_numbers(fields, "split_feature", np.int64))
        parts["threshold"].append(threshold)
        parts["default_left"].append(((decision >> 1) & 1).astype(bool))
        parts["missing"].append((decision >> 2) & 3)
        parts["categorical"].append(is_categorical)
        parts["left"].append(_numbers(fields, "left_child", np.int64))
        parts["right"].append(_numbers(fields, "right_child", np.int64))
        parts["split_count"].append(_numbers(fields, "internal_count", np.float64))
        split_offset.append(split_offset[-1] + len(decision))

    def joined(key: str, dtype) -> np.ndarray:
        return np.concatenate(parts[key]).astype(dtype) if parts[key] else np.array([], dtype=dtype)

    return Forest(
        features=features,
        split_offset=np.array(split_offset, dtype=np.int64),
        leaf_offset=np.array(leaf_offset, dtype=np.int64),
        feature=joined("feature", np.int64),
        threshold=joined("threshold", np.float64),
        default_left=joined("default_left", bool),
        missing_type=joined("missing", np.int64),
        categorical=joined("categorical", bool),
        category_offset=np.array(category_offset, dtype=np.int64),
        category_bits=joined("category_bits", np.uint32),
        left=joined("left", np.int64),
        right=joined("right", np.int64),
        split_count=joined("split_count", np.float64),
        leaf_value=joined("leaf_value", np.float64),
        leaf_count=joined("leaf_count", np.float64),
    )
