"""Published reference tables shipped inside the package (see README.md beside this file).

Everything that must agree with the real city — district names and sizes, one-person households
by age, the administrative dongs, the crisis-indicator catalogue — is read from here and nowhere else, so the generator,
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
def dongs() -> pd.DataFrame:
    """Seoul's 426 administrative dongs (행정동, March 2022): district, district code, the dong's
    10-digit 행정표준코드 and name, electors (a relative size within its district, not households) and
    an inner centroid in UTM-K metres (EPSG:5179; missing for three dongs newer than the centroids)."""
    with _HERE.joinpath("seoul_dongs.csv").open("rb") as handle:
        table = pd.read_csv(handle, dtype={"gu_code": "str", "dong_code": "str", "dong_name": "str"})
    return table


@cache
def dong_names() -> dict[str, str]:
    """Dong code -> its name, as a planner knows the neighbourhood."""
    table = dongs()
    return dict(zip(table["dong_code"], table["dong_name"], strict=True))


@cache
def dong_districts() -> dict[str, str]:
    """Dong code -> the district it belongs to."""
    table = dongs()
    return dict(zip(table["dong_code"], table["gu"], strict=True))


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
