"""Reasons a planner reads: the model's own SHAP contributions, grouped, ranked, in plain words.

A reason must be a factor the model really used for this household, so reasons are read off the
calibrated booster's `pred_contrib` (exactly shap's TreeExplainer without background data, and
exactly the served probability's log-odds). Features that say one thing (the 3-, 6- and 12-month
windows of one crisis category) are summed into one reason. Only contributions toward higher
risk count; a reason needs the household's value to show it (a count above zero, a known level),
protected attributes and features the catalogue marks as never-a-reason are dropped, and at most
four remain. Each is rendered from the catalogue sentence with the household's own values.

Everything up to the rendering works on whole matrices, so a city of millions is a few array
operations, not a Python loop per household.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import lightgbm as lgb
import numpy as np

from features.catalogue import LEVEL_NAMES, Feature, by_name

MAX_REASONS = 4
MIN_CONTRIBUTION = 1e-6
"""Log-odds below which a contribution is noise, not a reason."""


@dataclass(frozen=True)
class Reason:
    code: str
    """The reason group (catalogue `reason_group`, or the feature name): stable for comparisons."""
    feature: str
    """The feature whose sentence and value are shown: the group's largest contributor."""
    contribution: float
    """Log-odds this group adds for this household."""
    text_ko: str
    text_en: str


@dataclass(frozen=True)
class ReasonPlan:
    """The grouping of one model's features, computed once per model."""

    features: list[str]
    groups: list[str]
    membership: np.ndarray
    """features × groups, 1 where a feature belongs to a group that may be a reason."""
    catalogue: dict[str, Feature]

    @classmethod
    def for_features(cls, features: list[str]) -> ReasonPlan:
        catalogue = by_name()
        unknown = [f for f in features if f not in catalogue]
        if unknown:
            raise ValueError(f"the model uses features the catalogue does not know: {unknown}")
        eligible = [f for f in features if catalogue[f].can_be_reason and not catalogue[f].protected]
        groups = sorted({catalogue[f].group for f in eligible})
        index = {g: i for i, g in enumerate(groups)}
        membership = np.zeros((len(features), len(groups)))
        for row, name in enumerate(features):
            if name in eligible:
                membership[row, index[catalogue[name].group]] = 1.0
        return cls(list(features), groups, membership, catalogue)


def _shows(feature: Feature, values: np.ndarray) -> np.ndarray:
    """Whether each household's value can carry this feature's reason."""
    known = ~np.isnan(values)
    if feature.reason_when == "present":
        return known
    return known & (values > 0)


def _format_value(feature: Feature, value: float, language: str) -> str:
    unit = feature.unit
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "krw":
        return f"{value:,.0f}원" if language == "ko" else f"KRW {value:,.0f}"
    if unit in ("count", "days", "hours", "years"):
        return f"{math.floor(value):,}"
    return f"{value:g}"


def _level_names(feature: Feature) -> dict[str, tuple[str, str]]:
    for names in LEVEL_NAMES.values():
        if tuple(names) == feature.levels:
            return names
    return {}


def render(feature: Feature, value: float) -> tuple[str, str]:
    """The catalogue sentence in Korean and English with this household's value."""
    window = feature.window_months or ""
    fields: dict[str, object] = {"window": window}
    if feature.categorical:
        level = feature.levels[int(value)] if 0 <= int(value) < len(feature.levels) else "other"
        names = _level_names(feature).get(level, (level, level))
        fields.update(level_ko=names[0], level_en=names[1])
    ko = feature.reason_ko.format(value=_format_value(feature, value, "ko"), **fields)
    en = feature.reason_en.format(value=_format_value(feature, value, "en"), **fields)
    return ko, en


def explain(booster: lgb.Booster, values: np.ndarray, plan: ReasonPlan) -> list[list[Reason]]:
    """Up to four reasons per household (row order kept), strongest first.

    `values` is the float feature matrix in `plan.features` order (NaN for missing), the same one
    the caller predicted from, so a city is converted from its table once."""
    contributions = booster.predict(values, pred_contrib=True)[:, : len(plan.features)]
    if not plan.groups:
        return [[] for _ in range(len(values))]
    shows = np.zeros_like(values, dtype=bool)
    for column, name in enumerate(plan.features):
        shows[:, column] = _shows(plan.catalogue[name], values[:, column])
    # A group's contribution counts everything the model used; whether it can be shown depends
    # on any of its features having a value that says it.
    group_contribution = contributions @ plan.membership
    group_shown = (shows.astype(float) @ plan.membership) > 0
    strength = np.where(group_shown & (group_contribution > MIN_CONTRIBUTION), group_contribution, -np.inf)
    k = min(MAX_REASONS, len(plan.groups))
    top = np.argpartition(-strength, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(strength, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    # Within a group, the sentence shown is that of its largest contributor with a value to show.
    leading = np.where(shows, contributions, -np.inf)
    lead_column = np.zeros((len(values), len(plan.groups)), dtype=int)
    for group_index in range(len(plan.groups)):
        members = np.flatnonzero(plan.membership[:, group_index])
        lead_column[:, group_index] = members[np.argmax(leading[:, members], axis=1)]
    top_strength = np.take_along_axis(strength, top, axis=1)
    top_column = np.take_along_axis(lead_column, top, axis=1)
    top_value = np.take_along_axis(values, top_column, axis=1)
    reasons: list[list[Reason]] = []
    for row in range(len(values)):
        chosen: list[Reason] = []
        for slot in range(k):
            score = top_strength[row, slot]
            if not np.isfinite(score):
                break
            name = plan.features[top_column[row, slot]]
            ko, en = _rendered(name, float(top_value[row, slot]))
            chosen.append(Reason(plan.groups[top[row, slot]], name, float(score), ko, en))
        reasons.append(chosen)
    return reasons


@lru_cache(maxsize=200_000)
def _rendered(feature_name: str, value: float) -> tuple[str, str]:
    """Values repeat (counts, months, levels), so most sentences are formatted once per process."""
    return render(by_name()[feature_name], value)
