"""Published reference tables shipped inside the package (see README.md beside this file).

Everything that must agree with the real city — district names and sizes, one-person households
by age, the crisis-indicator catalogue — is read from here and nowhere else, so the generator,
the validators and the feature families cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd

_HERE = files(__name__)

AGE_BAND_COLUMNS: tuple[str, ...] = (
    "under_20",
    "20_24",
    "25_29",
    "30_34",
    "35_39",
    "40_44",
    "45_49",
    "50_54",
    "55_59",
    "60_64",
    "65_69",
    "70_74",
    "75_79",
    "80_84",
    "85_plus",
)
"""Age bands of the one-person household table, youngest first."""


def _read(name: str) -> pd.DataFrame:
    with _HERE.joinpath(name).open("rb") as handle:
        return pd.read_csv(handle)


@cache
def districts() -> pd.DataFrame:
    """The 25 districts (gu) with households, one-person households by sex and lonely deaths."""
    return _read("seoul_households_by_gu.csv")


@cache
def district_names() -> tuple[str, ...]:
    """Korean district names exactly as the contract's `gu` column must spell them."""
    return tuple(districts()["gu"].tolist())


@cache
def one_person_age_bands() -> pd.DataFrame:
    """One-person households per district (rows) and age band of the householder (columns)."""
    return _read("seoul_single_person_households_by_gu_age.csv")


@cache
def indicator_catalogue() -> pd.DataFrame:
    """Crisis indicators the city delivers: code, names, category, has_amount, since (year)."""
    catalogue = _read("indicators.csv")
    catalogue["has_amount"] = catalogue["has_amount"].astype(bool)
    return catalogue


@cache
def indicator_categories() -> dict[str, str]:
    """Indicator code -> category; codes missing here count under category `other`."""
    catalogue = indicator_catalogue()
    return dict(zip(catalogue["code"], catalogue["category"], strict=True))


UNKNOWN_INDICATOR_CATEGORY = "other"
"""Category under which an indicator code the catalogue does not know yet is counted."""
