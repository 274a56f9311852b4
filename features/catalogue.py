"""The feature catalogue: every model input, read from the families that declare them.

A feature is written once, beside its query, in features/families/ (see features/declaration.py).
Everything that needs the whole list reads it here: the round table's columns and their
zero-or-missing rule, the families an experiment may choose, the reason renderer, the API's model
description and docs/features.md.
"""

from __future__ import annotations

from functools import cache

from features.declaration import Feature, FeatureFamily
from features.families import admin, crisis, history, sensors

CATALOGUE_VERSION = "3"
"""Bump when a feature is added, removed or changes meaning; recorded in every manifest, and a
city-scoring run of another version is never resumed. 3: crisis_categories_12m."""

FAMILIES: tuple[FeatureFamily, ...] = (admin.FAMILY, crisis.FAMILY, sensors.FAMILY, history.FAMILY)
"""In table order. The first is the registry: its rows are the round's households, and the others
join it by household."""


def table_order(families: tuple[FeatureFamily, ...]) -> tuple[Feature, ...]:
    """The features of some families in the column order of a feature table: the families in
    order, then the protected attributes, so the columns a model may use without them come first.
    A name two families both declare (two columns of one name) is refused."""
    features = [f for family in families for f in family.features]
    declared_by: dict[str, list[str]] = {}
    for f in features:
        declared_by.setdefault(f.name, []).append(f.family)
    twice = {name: owners for name, owners in declared_by.items() if len(owners) > 1}
    if twice:
        raise ValueError(f"features declared more than once (feature: families): {twice}")
    return tuple([f for f in features if not f.protected] + [f for f in features if f.protected])


@cache
def catalogue() -> tuple[Feature, ...]:
    """Every feature, in the column order of a feature table."""
    return table_order(FAMILIES)


@cache
def by_name() -> dict[str, Feature]:
    return {feature.name: feature for feature in catalogue()}


def names(families: tuple[str, ...] | None = None) -> list[str]:
    """Feature names, optionally of some families only, in table order."""
    return [f.name for f in catalogue() if families is None or f.family in families]


def family_names() -> tuple[str, ...]:
    """The families an experiment may choose its inputs from (training/config.py)."""
    return tuple(family.name for family in FAMILIES)


def zero_when_absent() -> frozenset[str]:
    """Features a household its family's query has no row for gets as 0 rather than missing."""
    return frozenset(f.name for f in catalogue() if f.fill == "zero")


def catalogue_markdown() -> str:
    """The catalogue as a Markdown document, so the docs are generated, never retyped."""
    lines = [
        "# Feature catalogue",
        "",
        f"Generated from the declarations in `features/families/` (catalogue version {CATALOGUE_VERSION}) "
        "by `anbu catalogue --out docs/features.md`; do not edit by hand.",
        "",
        "Windows end on the round date and use only facts reported, valid, visited or measured "
        "on or before it. A household the family has no row for gets 0 where the fill is `zero` "
        "(no crisis report is a count of 0) and stays missing otherwise (no sensor is not 0). "
        "The registry's rows are the round's households, so no fill applies to its features "
        "(a value the validation refused stays missing). "
        "Protected attributes are model inputs only when an experiment says so, and never reasons.",
        "",
    ]
    for family in FAMILIES:
        lines += [
            f"## {family.name}",
            "",
            f"{family.summary[0].upper()}{family.summary[1:]} (`features/families/{family.query.__module__.rsplit('.', 1)[-1]}.py`).",
            "",
            "| feature | window | fill | 설명 | description | reason (ko / en) |",
            "|---|---|---|---|---|---|",
        ]
        registry = family is FAMILIES[0]
        for f in family.features:
            fill = "—" if registry else f.fill
            reason = (
                f"{f.reason_ko} / {f.reason_en}"
                if f.can_be_reason
                else "protected: never a reason"
                if f.protected
                else "never a reason"
            )
            lines.append(
                f"| `{f.name}` | {f.window} | {fill} | {f.description_ko} | {f.description_en} | {reason} |"
            )
        lines.append("")
    return "\n".join(lines)
