"""City variants change what they say they change, and the truth says what a visit would find."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthetic.generator import generate_city
from synthetic.truth import round_truth
from synthetic.variants import DEFAULT, DEFAULT_HAZARD, VARIANTS, variant

HOUSEHOLDS = 4_000


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    made = {}
    for name in ("default", "noisy_visits", "list_driven", "small_survey", "slow_reporting"):
        made[name] = root / name
        generate_city(made[name], households=HOUSEHOLDS, months=24, seed=11, variant=variant(name))
    return made


def _visits(city: Path) -> pd.DataFrame:
    visits = pq.read_table(city / "outreach_visits.parquet").to_pandas(date_as_object=False)
    return visits.assign(found=visits["outcome"].isin(["isolated", "at_risk"]))


def test_every_variant_has_visit_outcome_probabilities_that_sum_to_one() -> None:
    for city in VARIANTS.values():
        assert np.allclose(city.outcome_table().sum(axis=1), 1.0), city.name
        assert set(city.hazard) == set(DEFAULT_HAZARD), city.name
        assert city.description


def test_an_unknown_variant_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="no city variant 'nope'; choose one of default, noisy_visits"):
        variant("nope")


def test_the_generation_summary_names_the_variant(cities: dict[str, Path]) -> None:
    summary = json.loads((cities["list_driven"] / "_truth" / "generation.json").read_text())
    assert summary["variant"] == "list_driven"


def test_the_truth_records_what_one_visit_would_find_given_the_state(cities: dict[str, Path]) -> None:
    for name in ("default", "noisy_visits"):
        truth = pq.read_table(cities[name] / "_truth" / "monthly_state.parquet").to_pandas()
        expected = VARIANTS[name].p_visit_positive()[truth["state"].to_numpy()]
        assert np.allclose(truth["p_visit_positive"], expected)
    # A fine household is recorded at risk 4 % of the time in the default city, 7 % in the noisy one.
    assert DEFAULT.p_visit_positive()[0] == pytest.approx(0.04)
    assert VARIANTS["noisy_visits"].p_visit_positive()[0] == pytest.approx(0.07)


def test_noisy_visits_find_more_positives_among_fine_households_only_through_the_outcome_table(
    cities: dict[str, Path],
) -> None:
    default, noisy = _visits(cities["default"]), _visits(cities["noisy_visits"])
    # Same city and same visits (the outcome draw is the last step), different findings.
    assert len(default) == len(noisy)
    assert (
        noisy.loc[noisy["trigger"] == "survey", "found"].mean()
        > default.loc[default["trigger"] == "survey", "found"].mean()
    )


def test_list_driven_outreach_visits_more_list_households_and_small_surveys_visit_fewer(
    cities: dict[str, Path],
) -> None:
    def count(name: str, trigger: str) -> int:
        return int((_visits(cities[name])["trigger"] == trigger).sum())

    assert count("list_driven", "system_list") > 2 * count("default", "system_list")
    assert count("small_survey", "survey") < 0.6 * count("default", "survey")


def test_slow_reporting_delays_every_report_by_two_to_six_months(cities: dict[str, Path]) -> None:
    events = pq.read_table(cities["slow_reporting"] / "crisis_events.parquet").to_pandas(date_as_object=False)
    lag = (events["reported_on"] - events["reference_month"]).dt.days
    assert lag.min() >= 55 and lag.max() < 186


def test_census_found_weights_the_window_by_when_the_survey_visited(cities: dict[str, Path]) -> None:
    city = cities["default"]
    round_date = pd.Timestamp("2026-07-31")
    october = pd.Series(pd.to_datetime(["2026-10-05"] * 3))
    truth = round_truth(city, round_date, october)
    monthly = pq.read_table(city / "_truth" / "monthly_state.parquet").to_pandas(date_as_object=False)
    monthly = monthly[pd.to_datetime(monthly["month"]) == pd.Timestamp("2026-10-01")].set_index(
        "household_id"
    )
    shared = truth.index.intersection(monthly.index)
    assert np.allclose(truth.loc[shared, "census_found"], monthly.loc[shared, "p_visit_positive"])
    assert truth["true_positive"].isin([0, 1]).all()
    # households that arrive during the window have no state before it, so no best possible score
    assert truth["best_possible"].dropna().between(0, 1).all()
