"""Reasons a planner reads: the model's own SHAP contributions, grouped, ranked, in plain words.

A reason must be a factor the model really used for this household, so reasons are read off the
calibrated booster's SHAP contributions (serving/explain/tree_shap.py: equal to LightGBM's `pred_contrib`,
i.e. shap's TreeExplainer without background data, and summing to the served log-odds). Features that say one thing (the 3-, 6- and 12-month
windows of one crisis category) are summed into one reason. Only contributions toward higher
risk count; a reason needs the household's value to show it (a count above zero, a known level),
protected attributes and features the catalogue marks as never-a-reason are dropped, and at most
four remain. Each is rendered from the catalogue sentence with the household's own values.

Choosing is one compiled pass over the households (serving/scoring/reason_choice.py), and a
city's sentences are rendered once per distinct (feature, value) and shared (`reason_lists`), so
millions of households are never a Python loop per household.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalogue import by_name
from features.declaration import Feature, Level
from features.families.history import FAMILY as HISTORY

if TYPE_CHECKING:  # numba compiles only where households are explained, not where rounds are read
    from serving.explain.served_model import ServedModel
    from serving.explain.tree_shap import PathExplainer

MAX_REASONS = 4
MIN_CONTRIBUTION = 1e-6
"""Log-odds below which a contribution is noise, not a reason."""

HISTORY_SHARE = 0.25
"""A history reason ("previous visits found…") is shown only when it carries at least this share
of the household's shown reasons' log-odds: for a household nobody has met, the planner needs
the crisis reports, registry changes and sensor signals, and a history line by default would
read as if the team had been there. Shown history reasons come after the others."""


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
    history: np.ndarray | None = None
    """Per group, whether it is about outreach's own history (catalogue family `history`)."""

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
        history = np.array(
            [
                all(catalogue[f].family == HISTORY.name for f in eligible if catalogue[f].group == g)
                for g in groups
            ],
            dtype=bool,
        )
        return cls(list(features), groups, membership, catalogue, history)

    @cached_property
    def members(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each group's features as (start per group, then their columns in the model's order) and,
        per feature, when its value shows its reason: the choosing kernel's form of `membership`."""
        from serving.scoring.reason_choice import SHOWN_WHEN_KNOWN, SHOWN_WHEN_POSITIVE

        columns = [np.flatnonzero(self.membership[:, group]) for group in range(len(self.groups))]
        start = np.zeros(len(columns) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in columns], out=start[1:])
        members = np.concatenate([*columns, np.empty(0, dtype=np.int64)]).astype(np.int64)
        shown_when = np.array(
            [
                SHOWN_WHEN_KNOWN if self.catalogue[name].reason_when == "present" else SHOWN_WHEN_POSITIVE
                for name in self.features
            ],
            dtype=np.int64,
        )
        return start, members, shown_when


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


def _level(feature: Feature, code: int) -> Level:
    """The level a model's integer code stands for; a code outside the levels reads as the
    feature's `other` level, or plainly "other"."""
    if 0 <= code < len(feature.levels):
        return feature.levels[code]
    return next(
        (level for level in feature.levels if level.name == "other"), Level("other", "other", "other")
    )


def _number_agreement(feature: Feature, value: float) -> dict[str, str]:
    """What a sentence needs to agree with its number: "1 visit", "2 visits"; "오늘" for 0 days."""
    shown = _format_value(feature, value, "en") if not feature.categorical else ""
    fields = {"s": "" if shown == "1" else "s"}
    if feature.unit == "days":
        fields["ago_ko"] = "오늘" if shown == "0" else f"{shown}일 전"
        fields["ago_en"] = "today" if shown == "0" else f"{shown} day{fields['s']} ago"
    return fields


def render(feature: Feature, value: float) -> tuple[str, str]:
    """The catalogue sentence in Korean and English with this household's value."""
    window = feature.window_months or ""
    fields: dict[str, object] = {"window": window, **_number_agreement(feature, value)}
    if feature.categorical:
        level = _level(feature, int(value))
        fields.update(level_ko=level.ko, level_en=level.en)
    ko = feature.reason_ko.format(value=_format_value(feature, value, "ko"), **fields)
    en = feature.reason_en.format(value=_format_value(feature, value, "en"), **fields)
    return ko, en


@dataclass(frozen=True)
class ChosenReasons:
    """Up to MAX_REASONS reasons per household as matrices (households × slots, strongest first);
    a slot without a reason has group and column -1."""

    group: np.ndarray
    column: np.ndarray
    """The feature column whose sentence and value are shown."""
    value: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return len(self.group)


def choose(contributions: np.ndarray, values: np.ndarray, plan: ReasonPlan) -> ChosenReasons:
    """The reasons of every household, from its contributions (features + expected value), in one
    compiled pass (serving/scoring/reason_choice.py holds the rules)."""
    from serving.scoring.reason_choice import choose_reasons

    slots = min(MAX_REASONS, len(plan.groups))
    member_start, members, shown_when = plan.members
    history = plan.history if plan.history is not None else np.zeros(len(plan.groups), dtype=bool)
    group, column, value, strength = choose_reasons(
        contributions,
        values,
        member_start,
        members,
        shown_when,
        history,
        slots,
        MIN_CONTRIBUTION,
        HISTORY_SHARE,
    )
    return ChosenReasons(group, column, value, strength)


def warm(plan: ReasonPlan) -> None:
    """Compile the choosing for the layouts a service's requests come in (one household; several,
    read by column from pandas; enough to run on every core) at its start, not on its first requests."""
    from serving.scoring.reason_choice import PARALLEL_FROM

    width = len(plan.features)
    for households, order in ((1, "C"), (2, "F"), (PARALLEL_FROM, "F")):
        values = np.full((households, width), np.nan, order=order)
        choose(np.zeros((households, width + 1)), values, plan)


def explain(
    explainer: PathExplainer | ServedModel, values: np.ndarray, plan: ReasonPlan
) -> list[list[Reason]]:
    """Up to four reasons per household (row order kept), strongest first, as objects: for the
    service's small batches. `values` is the float feature matrix in `plan.features` order (NaN
    for missing), the same one the caller predicted from."""
    chosen = choose(explainer.contributions(values), values, plan)
    reasons: list[list[Reason]] = []
    for row in range(len(chosen)):
        listed: list[Reason] = []
        for slot in range(chosen.group.shape[1]):
            group = int(chosen.group[row, slot])
            if group < 0:
                break
            name = plan.features[int(chosen.column[row, slot])]
            ko, en = _rendered(name, float(chosen.value[row, slot]))
            listed.append(Reason(plan.groups[group], name, float(chosen.strength[row, slot]), ko, en))
        reasons.append(listed)
    return reasons


REASON_FIELDS = ("code", "feature", "text_ko", "text_en")
REASONS_TYPE = pa.list_(pa.struct([(name, pa.string()) for name in REASON_FIELDS]))
"""A scored round's `reasons` column: per household its reasons, strongest first, each with its
group's code, the feature whose sentence is shown, and the sentence in Korean and English — the
`Reason` objects the service explains with, minus the contribution. Kept whole from the booster
to the API; only the files people open (CSV, XLSX) and the terminal flatten them."""


def reason_lists(chosen: ChosenReasons, plan: ReasonPlan) -> pa.ListArray:
    """Every household's reasons as one REASONS_TYPE array, with each distinct (feature, value)
    sentence rendered once for the whole block."""
    present = chosen.group >= 0  # a household's reasons fill its first slots (see `choose`)
    group, column, value = chosen.group[present], chosen.column[present], chosen.value[present]
    # Distinct (feature, value) pairs by hashing, not sorting: a city's are millions of pairs.
    value_code, values = pd.factorize(value, use_na_sentinel=False)
    pair_code, pairs = pd.factorize(value_code.astype(np.int64) * len(plan.features) + column)
    rendered = [
        _rendered(plan.features[int(c)], float(v))
        for c, v in zip(pairs % len(plan.features), values[pairs // len(plan.features)], strict=True)
    ]
    sentence = pa.array(pair_code.astype(np.int64))
    return _reasons_array(
        present.sum(axis=1),
        pa.array(plan.groups, pa.string()).take(pa.array(group)),
        pa.array(plan.features, pa.string()).take(pa.array(column)),
        pa.array([ko for ko, _ in rendered], pa.string()).take(sentence),
        pa.array([en for _, en in rendered], pa.string()).take(sentence),
    )


def _reasons_array(
    counts: np.ndarray, code: pa.Array, feature: pa.Array, text_ko: pa.Array, text_en: pa.Array
) -> pa.ListArray:
    """REASONS_TYPE from each household's number of reasons and the reasons' fields, household
    after household, strongest first."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    items = pa.StructArray.from_arrays(
        [code, feature, text_ko, text_en], fields=list(REASONS_TYPE.value_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=REASONS_TYPE)


FLAT_REASON_COLUMNS = ["reason_codes"] + [
    f"reason_{slot + 1}_{language}" for slot in range(MAX_REASONS) for language in ("ko", "en")
]
"""How rounds scored before reasons were stored whole kept them: the codes joined by `|`, then
each slot's two sentences. Such rounds are never rewritten, so they are read (`reasons_from_flat`),
never written."""


class ReasonsUnreadable(ValueError):
    """A stored round's reasons cannot be what `anbu score` wrote (at `row`, and `rows` like it)."""

    def __init__(self, row: int, rows: int, message: str) -> None:
        super().__init__(message)
        self.row, self.rows = row, rows


def reasons_from_flat(table: pa.Table) -> pa.ListArray:
    """The REASONS_TYPE array an older round's flat columns say, read as the service read them: a
    household's reasons are its leading slots with a Korean sentence, each with the code in the
    same place of `reason_codes`; the feature was not stored (null)."""
    households = len(table)
    ko = [table[f"reason_{slot + 1}_ko"].combine_chunks().cast(pa.string()) for slot in range(MAX_REASONS)]
    en = [table[f"reason_{slot + 1}_en"].combine_chunks().cast(pa.string()) for slot in range(MAX_REASONS)]
    shown = np.stack([text.is_valid().to_numpy(zero_copy_only=False) for text in ko], axis=1)
    counts = np.cumprod(shown, axis=1).sum(axis=1)
    joined = table["reason_codes"].combine_chunks().cast(pa.string()).fill_null("")
    codes = pc.split_pattern(joined, "|")
    short = counts > pc.list_value_length(codes).to_numpy(zero_copy_only=False)
    if short.any():
        row = int(np.flatnonzero(short)[0])
        raise ReasonsUnreadable(
            row,
            int(short.sum()),
            f"{int(counts[row])} reason sentences but reason_codes {joined[row].as_py()!r}",
        )
    # Each household's reasons, household after household: (row, slot) in row-major order.
    row, slot = np.nonzero(np.arange(MAX_REASONS)[None, :] < counts[:, None])
    starts = codes.offsets.to_numpy()[:-1]
    return _reasons_array(
        counts,
        codes.values.take(pa.array(starts[row] + slot)),
        pa.nulls(len(row), pa.string()),
        pa.concat_arrays(ko).take(pa.array(slot * households + row)),
        pa.concat_arrays(en).take(pa.array(slot * households + row)),
    )


def checked_reasons(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A stored `reasons` column as the service and the lists read it. A household without a list
    has no reasons (an empty list: what the flat layout's empty `reason_codes` said); a reason
    without its code or either sentence is refused, since a planner would be shown a blank."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    items = pc.list_flatten(column)
    blank = pc.is_null(items).to_numpy(zero_copy_only=False)
    for field in ("code", "text_ko", "text_en"):
        written = pc.fill_null(pc.greater(pc.utf8_length(pc.struct_field(items, field)), 0), False)
        blank |= ~written.to_numpy(zero_copy_only=False)
    if blank.any():
        parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)[blank]
        raise ReasonsUnreadable(
            int(parents[0]), len(np.unique(parents)), "a reason without its code or one of its sentences"
        )
    if column.null_count:
        column = pc.if_else(pc.is_null(column), pa.scalar([], column.type), column)
    return column


@lru_cache(maxsize=200_000)
def _rendered(feature_name: str, value: float) -> tuple[str, str]:
    """Values repeat (counts, months, levels), so most sentences are formatted once per process."""
    return render(by_name()[feature_name], value)
