"""Who lives in the synthetic Seoul: districts, household make-up and attributes that go together.

District sizes, one-person shares, the sex and age bands of one-person householders come from the
published tables by largest-remainder apportionment, so at N = 4,159,502 every district total is
the published one exactly, and at smaller N it is proportional. Everything the tables do not say
(heads of multi-person households, housing, tenure, income) is a stated assumption below, chosen
so that attributes are correlated as in the city: older and one-person households rent more
vulnerable housing, receive livelihood support and medical aid more often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.vocabulary import HOUSING_TYPES, TENURES
from features.reference import AGE_BAND_COLUMNS, districts, dongs, one_person_age_bands

BAND_AGE_RANGES: dict[str, tuple[int, int]] = {
    "under_20": (18, 19),
    "20_24": (20, 24),
    "25_29": (25, 29),
    "30_34": (30, 34),
    "35_39": (35, 39),
    "40_44": (40, 44),
    "45_49": (45, 49),
    "50_54": (50, 54),
    "55_59": (55, 59),
    "60_64": (60, 64),
    "65_69": (65, 69),
    "70_74": (70, 74),
    "75_79": (75, 79),
    "80_84": (80, 84),
    "85_plus": (85, 96),
}

MULTI_PERSON_HEAD_AGE_SHARES: dict[str, float] = {
    "under_20": 0.0,
    "20_24": 0.005,
    "25_29": 0.02,
    "30_34": 0.06,
    "35_39": 0.09,
    "40_44": 0.11,
    "45_49": 0.13,
    "50_54": 0.13,
    "55_59": 0.12,
    "60_64": 0.11,
    "65_69": 0.09,
    "70_74": 0.07,
    "75_79": 0.04,
    "80_84": 0.02,
    "85_plus": 0.005,
}
"""Assumption: heads of multi-person households, by age band (no published table in the repo)."""

UNUSED_DRAW = 1_000
"""Cities made before real dongs drew a dong per household from each chunk's generator
(integers below this); the draw is still made, unused, so that everything else a seed generates
stays as it was and earlier experiments' cities differ from today's only in their dongs."""


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment: integers proportional to weights that sum to total.

    With weights equal to published counts and total equal to their sum, it returns the counts.
    """
    weights = np.asarray(weights, dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
    counts[order[:remainder]] += 1
    return counts


@dataclass(frozen=True)
class Composition:
    """One row per household of the whole city, before any chunk is simulated (small ints only)."""

    gu_index: np.ndarray
    one_person: np.ndarray
    age_band: np.ndarray
    male: np.ndarray
    dong_index: np.ndarray
    """Which of its district's dongs (district_dongs() order) the household lives in."""


def compose_city(n_households: int, rng: np.random.Generator) -> Composition:
    """District, one-person status, age band and sex of every household, matching the tables."""
    table = districts()
    bands = one_person_age_bands().set_index("gu").loc[table["gu"]]
    per_gu = apportion(n_households, table["households"].to_numpy())
    gu_index, one_person, age_band, male = [], [], [], []
    multi_shares = np.array([MULTI_PERSON_HEAD_AGE_SHARES[b] for b in AGE_BAND_COLUMNS])
    for g, n in enumerate(per_gu):
        row = table.iloc[g]
        alone = int(
            apportion(
                n,
                np.array(
                    [row["single_person_households"], row["households"] - row["single_person_households"]]
                ),
            )[0]
        )
        band_counts = apportion(alone, bands.iloc[g][list(AGE_BAND_COLUMNS)].to_numpy())
        alone_bands = np.repeat(np.arange(len(AGE_BAND_COLUMNS)), band_counts)
        males = int(apportion(alone, np.array([row["single_person_male"], row["single_person_female"]]))[0])
        # Young and middle-aged one-person householders are more often men, the oldest more often
        # women; the published male total per district is kept exact by ranking on a tilted key.
        tilt = np.where(alone_bands <= 9, 0.6, np.where(alone_bands >= 12, -0.8, 0.0))
        key = tilt + rng.gumbel(size=alone)
        alone_male = np.zeros(alone, dtype=bool)
        alone_male[np.argsort(-key, kind="stable")[:males]] = True
        multi = n - alone
        multi_bands = rng.choice(len(AGE_BAND_COLUMNS), size=multi, p=multi_shares / multi_shares.sum())
        gu_index.append(np.full(n, g, dtype=np.int16))
        one_person.append(np.r_[np.ones(alone, bool), np.zeros(multi, bool)])
        age_band.append(np.r_[alone_bands, multi_bands].astype(np.int8))
        male.append(np.r_[alone_male, rng.random(multi) < 0.78])
    gu_all = np.concatenate(gu_index)
    composition = Composition(
        gu_all,
        np.concatenate(one_person),
        np.concatenate(age_band),
        np.concatenate(male),
        np.zeros(len(gu_all), dtype=np.int16),
    )
    order = rng.permutation(n_households)  # households of a district are not contiguous ids
    fields = ("gu_index", "one_person", "age_band", "male", "dong_index")
    composition = Composition(*(getattr(composition, f)[order] for f in fields))
    # Drawn after everything above, so a seed's districts, ages and sexes are what they were.
    for g, placed in enumerate(district_dongs()):
        own = np.flatnonzero(composition.gu_index == g)
        counts = apportion(len(own), placed.electors)
        composition.dong_index[own] = rng.permutation(
            np.repeat(np.arange(len(counts), dtype=np.int16), counts)
        )
    return composition


@dataclass(frozen=True)
class DistrictDongs:
    """One district's real dongs and their electors (a relative size: a district's households are
    apportioned to its dongs in these proportions, exactly as districts get the published totals)."""

    codes: np.ndarray
    electors: np.ndarray


def district_dongs() -> list[DistrictDongs]:
    """Each district's administrative dongs, in districts() order."""
    table = dongs()
    return [
        DistrictDongs(
            table.loc[table["gu"] == gu, "dong_code"].to_numpy(dtype=object),
            table.loc[table["gu"] == gu, "electors_2022"].to_numpy(dtype="float64"),
        )
        for gu in districts()["gu"]
    ]


def _choose(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category per row from row-wise probabilities (rows sum to 1)."""
    cumulative = probabilities.cumsum(axis=1)
    return (rng.random((len(probabilities), 1)) > cumulative).sum(axis=1).clip(max=probabilities.shape[1] - 1)


def _housing_probabilities(age: np.ndarray, alone: np.ndarray) -> np.ndarray:
    # Columns follow HOUSING_TYPES: apartment, multi_family, detached, officetel, semi_basement,
    # gosiwon, other. Assumption informed by the 2022-23 screening (vulnerable housing over-represented).
    young = np.array([0.15, 0.35, 0.06, 0.25, 0.06, 0.08, 0.05])
    middle = np.array([0.25, 0.34, 0.12, 0.08, 0.08, 0.08, 0.05])
    old = np.array([0.36, 0.30, 0.20, 0.01, 0.06, 0.03, 0.04])
    family = np.array([0.60, 0.25, 0.08, 0.02, 0.03, 0.002, 0.018])
    probabilities = np.where(
        alone[:, None],
        np.where((age < 40)[:, None], young, np.where((age < 65)[:, None], middle, old)),
        family,
    )
    return probabilities / probabilities.sum(axis=1, keepdims=True)


_TENURE_BY_HOUSING = np.array(
    [  # owner, jeonse, monthly_rent, public_rental, other
        [0.55, 0.24, 0.10, 0.10, 0.01],  # apartment
        [0.30, 0.30, 0.33, 0.05, 0.02],  # multi_family
        [0.55, 0.15, 0.25, 0.02, 0.03],  # detached
        [0.15, 0.30, 0.53, 0.01, 0.01],  # officetel
        [0.10, 0.28, 0.57, 0.03, 0.02],  # semi_basement
        [0.00, 0.02, 0.93, 0.00, 0.05],  # gosiwon
        [0.20, 0.20, 0.40, 0.05, 0.15],  # other
    ]
)


def households_frame(
    composition: Composition,
    ids: np.ndarray,
    rows: np.ndarray,
    start: pd.Timestamp,
    rng: np.random.Generator,
    dongs: list[DistrictDongs],
) -> pd.DataFrame:
    """Attributes of the households `rows` of the composition, as at the start of the period."""
    gu_index = composition.gu_index[rows]
    alone = composition.one_person[rows]
    bands = composition.age_band[rows]
    n = len(rows)
    low = np.array([BAND_AGE_RANGES[b][0] for b in AGE_BAND_COLUMNS])[bands]
    high = np.array([BAND_AGE_RANGES[b][1] for b in AGE_BAND_COLUMNS])[bands]
    age = rng.integers(low, high + 1)
    size = np.where(alone, 1, 2 + _choose(rng, np.tile([0.42, 0.27, 0.23, 0.06, 0.02], (n, 1))))
    size = np.where(~alone & (age >= 65), np.minimum(size, 2 + (rng.random(n) < 0.2)), size)
    housing = _choose(rng, _housing_probabilities(age, alone))
    tenure = _choose(rng, _TENURE_BY_HOUSING[housing])
    # A latent disadvantage score ties income-related attributes together.
    vulnerable = np.isin(housing, [4, 5])
    disadvantage = (
        rng.normal(0, 1, n)
        + 0.9 * alone
        + 0.7 * vulnerable
        + 0.5 * (tenure == 3)
        + 0.4 * (tenure == 2)
        + 0.6 * (age >= 70)
        - 0.6 * (tenure == 0)
    )
    recipient = disadvantage > np.quantile(disadvantage, 0.93) if n else np.zeros(0, bool)
    applied = (
        ~recipient & (disadvantage > np.quantile(disadvantage, 0.90)) & (rng.random(n) < 0.15)
        if n
        else recipient
    )
    livelihood = np.where(recipient, "recipient", np.where(applied, "applied", "none"))
    medical_aid = (recipient & (rng.random(n) < 0.8)) | (~recipient & (rng.random(n) < 0.006))
    disability = rng.random(n) < np.clip(0.02 + 0.0012 * np.maximum(age - 40, 0) + 0.03 * recipient, 0, 0.3)
    tenure_years = rng.exponential(np.where(tenure == 0, 12.0, np.where(age < 35, 2.5, 6.0)))
    tenure_years = np.minimum(tenure_years, np.maximum(age - 18, 0.5))
    moved_in = (start - pd.to_timedelta(np.round(tenure_years * 365.25), unit="D")).normalize()
    rng.integers(0, UNUSED_DRAW, n)  # see UNUSED_DRAW
    dong = np.empty(n, dtype=object)
    dong_index = composition.dong_index[rows]
    for g in np.unique(gu_index):
        own = gu_index == g
        dong[own] = dongs[g].codes[dong_index[own]]
    return pd.DataFrame(
        {
            "household_id": ids,
            "gu": districts()["gu"].to_numpy()[gu_index],
            "dong_code": dong,
            "head_birth_year": (start.year - age).astype(np.int64),
            "head_sex": np.where(composition.male[rows], "M", "F"),
            "household_size": size.astype(np.int64),
            "housing_type": np.array(HOUSING_TYPES)[housing],
            "tenure": np.array(TENURES)[tenure],
            "moved_in": moved_in,
            "livelihood_status": livelihood,
            "medical_aid": medical_aid,
            "disability": disability,
            "disadvantage": disadvantage,
        }
    )
