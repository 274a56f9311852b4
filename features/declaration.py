"""How a feature family declares its features, beside the query that computes them.

A family module (features/families/) is the one place a feature is written: its name, window, fill
rule, levels, descriptions and reason sentence sit next to the SQL column that computes it, and the
catalogue (features/catalogue.py), the round table's zero-or-missing decision, the families an
experiment may choose and docs/features.md are all read from these declarations.

Reason sentences are `str.format` templates over the household's own values: `{value}` is the
feature value (formatted by `unit`), `{window}` the window in months, `{level_ko}`/`{level_en}`
the name of a categorical level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd

Unit = Literal["count", "days", "hours", "years", "ratio", "share", "krw", "flag", "level", "number"]
Fill = Literal["missing", "zero"]
"""What a household the family's query has no row for gets: `zero` where absence really is none
(no crisis report is a count of 0), `missing` where it is not knowing (no sensor is not 0)."""
FamilyQuery = Callable[[pd.Timestamp], tuple[str, dict]]
"""A family's point-in-time query: SQL and its parameters for one round date, in the dialect DuckDB
runs as written and Spark runs transpiled (features/spark_engine.py)."""


@dataclass(frozen=True)
class Level:
    """One value of a categorical feature; its position in the feature's levels is the integer code
    a model sees."""

    name: str
    ko: str
    en: str


def levels_of(contract_values: tuple[str, ...], names: Mapping[str, tuple[str, str]]) -> tuple[Level, ...]:
    """A categorical feature's levels in the contract's order, each with the Korean and English name
    a reason uses. The contract (features/contract/schemas.py) owns the values; a value without a
    name here, or a name for a value the contract does not have, is refused at import."""
    missing = [value for value in contract_values if value not in names]
    unknown = [value for value in names if value not in contract_values]
    if missing or unknown:
        raise ValueError(
            f"level names differ from the contract: without a name {missing}, not in the contract {unknown}"
        )
    return tuple(Level(value, *names[value]) for value in contract_values)


def level_code(column: str, levels: tuple[Level, ...]) -> str:
    """SQL for a level's position among a feature's levels (NULL for a value it does not have), in
    the form DuckDB and Spark read the same way."""
    cases = " ".join(f"WHEN '{level.name}' THEN {code}" for code, level in enumerate(levels))
    return f"(CASE {column} {cases} END)"


@dataclass(frozen=True)
class Feature:
    """One model input: what it means, how far back it looks, what absence means, how a planner
    reads it."""

    name: str
    description_ko: str
    description_en: str
    unit: Unit
    reason_ko: str = ""
    reason_en: str = ""
    """Empty for a feature that is never a reason. Fields: `{value}` (the household's, in the unit),
    `{window}` (months), `{level_ko}`/`{level_en}` (a category), `{s}` (English plural ending: empty
    when the value is 1) and, for days, `{ago_ko}`/`{ago_en}` ("3일 전" / "3 days ago", "오늘" /
    "today" at 0)."""
    window_days: int | None = None
    window_months: int | None = None
    fill: Fill = "missing"
    levels: tuple[Level, ...] = ()
    reason_group: str = ""
    """Features that make one reason together (the windows of one category); defaults to name."""
    reason_when: Literal["positive", "present"] = "positive"
    """`positive`: only a value above zero (or true) can be a reason; `present`: any known value."""
    protected: bool = False
    """A protected attribute (sex, disability): a model input only when an experiment says so, and
    never a reason."""
    family: str = ""
    """Set by the family that declares the feature (FeatureFamily), never written by hand."""

    def __post_init__(self) -> None:
        if bool(self.reason_ko) != bool(self.reason_en):
            raise ValueError(f"{self.name}: a reason needs both its Korean and its English sentence")
        if self.protected and self.reason_ko:
            raise ValueError(f"{self.name}: a protected attribute is never a reason")
        if self.window_days and self.window_months:
            raise ValueError(f"{self.name}: a window is in days or in months, not both")

    @property
    def can_be_reason(self) -> bool:
        return bool(self.reason_ko)

    @property
    def group(self) -> str:
        return self.reason_group or self.name

    @property
    def categorical(self) -> bool:
        return bool(self.levels)

    @property
    def window(self) -> str:
        """The window as the docs print it."""
        if self.window_months:
            return f"{self.window_months} months"
        return f"{self.window_days} days" if self.window_days else ""


@dataclass(frozen=True)
class FeatureFamily:
    """A family: one point-in-time query and the features it computes.

    The query may return more columns than features (audit columns, what outreach already knows);
    the round table (features/round_table.py) keeps only what it names. The first family in
    features/families/ is the registry: its rows are the round's households.
    """

    name: str
    summary: str
    query: FamilyQuery
    features: tuple[Feature, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(replace(f, family=self.name) for f in self.features))

    @property
    def table(self) -> str:
        """The temporary table the round join reads this family from."""
        return f"family_{self.name}"
