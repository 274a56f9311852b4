"""The synthetic Seoul looks like the city, keeps the contract, and hides a nonlinear truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.contract.delivery import validate_delivery
from features.reference import districts, dong_districts, indicator_catalogue
from synthetic.city import apportion, compose_city, district_dongs
from synthetic.city_report import city_report
from synthetic.generator import generate_city
from tests.synthetic.conftest import TEST_CITY_HOUSEHOLDS


def read(city: Path, name: str) -> pd.DataFrame:
    return pq.read_table(city / f"{name}.parquet").to_pandas(date_as_object=False)


def test_apportionment_returns_published_counts_at_full_size() -> None:
    published = districts()["households"].to_numpy()
    assert (apportion(int(published.sum()), published) == published).all()
    assert apportion(10, np.array([1, 1, 1])).tolist() == [4, 3, 3]


def test_seoul_composition_matches_every_published_district_total_exactly() -> None:
    table = districts()
    composition = compose_city(int(table["households"].sum()), np.random.default_rng(0))
    per_gu = np.bincount(composition.gu_index, minlength=len(table))
    alone = np.bincount(composition.gu_index[composition.one_person], minlength=len(table))
    male = np.bincount(composition.gu_index[composition.one_person & composition.male], minlength=len(table))
    assert (per_gu == table["households"].to_numpy()).all()
    assert (alone == table["single_person_households"].to_numpy()).all()
    assert (male == table["single_person_male"].to_numpy()).all()


def truth_of(city: Path) -> pd.DataFrame:
    frame = pq.read_table(city / "_truth" / "monthly_state.parquet").to_pandas(date_as_object=False)
    return frame.astype({"month": "datetime64[us]"})


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*.parquet"))
    }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_city(tmp_path / name, households=1_500, months=8, seed=seed)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["households.parquet"] != _digest(tmp_path / "c")["households.parquet"]


def test_every_generated_file_passes_the_contract(city: Path, tmp_path: Path) -> None:
    report = validate_delivery(city, tmp_path / "validated")
    for source in report.sources:
        assert source.rows_read == source.rows_accepted + source.rows_quarantined
        assert source.rows_quarantined == source.duplicates, (source.name, source.reasons)
    readings = report.source("sensor_readings")
    assert 0.001 < readings.duplicates / readings.rows_read < 0.01  # duplicated deliveries happen
    assert report.source("crisis_events").unknown_indicators == {
        "ENERGY_VOUCHER_UNUSED": report.source("crisis_events").unknown_indicators["ENERGY_VOUCHER_UNUSED"]
    }


def test_district_and_one_person_shares_within_one_point_of_published(city: Path) -> None:
    report = city_report(city)
    table = report.districts
    assert (table["generated_share"] - table["published_share"]).abs().max() < 0.01
    headline = report.headline.set_index("figure")
    assert (
        abs(headline.loc["one-person share", "generated"] - headline.loc["one-person share", "target"]) < 0.01
    )
    bands = report.age_bands
    assert (bands["generated_share"] - bands["published_share"]).abs().max() < 0.01


def test_prevalence_indicator_share_and_enrolment_are_on_target(city: Path) -> None:
    headline = city_report(city).headline.set_index("figure")["generated"]
    assert 0.019 <= headline["isolated, average month"] <= 0.031
    assert headline["at risk, average month"] > 0.015
    assert 0.075 <= headline["households with ≥1 indicator per full quarter"] <= 0.105
    assert 0.006 <= headline["enrolled in a smart service"] <= 0.015


def test_reports_lag_their_month_and_nothing_arrives_after_delivery(city: Path) -> None:
    events = read(city, "crisis_events")
    lag = (events["reported_on"] - events["reference_month"]).dt.days
    assert lag.between(25, 95).all()
    assert events["reported_on"].max() < pd.Timestamp("2026-11-01")
    assert read(city, "outreach_visits")["visited_on"].max() < pd.Timestamp("2026-11-01")


def test_indicators_appear_only_from_the_year_they_were_first_collected(tmp_path: Path) -> None:
    generate_city(tmp_path, households=4_000, months=60, seed=5)
    events = read(tmp_path, "crisis_events")
    since = dict(zip(indicator_catalogue()["code"], indicator_catalogue()["since"], strict=True))
    first_year = events.groupby("indicator")["reference_month"].min().dt.year
    late = {code: year for code, year in first_year.items() if code in since and year < since[code]}
    assert late == {}
    assert first_year.get("WATER_ARREARS", 2023) >= 2023 and events["reference_month"].min().year == 2021


def test_isolation_concentrates_where_the_domain_says(city: Path) -> None:
    truth = truth_of(city)
    first = read(city, "households").drop_duplicates("household_id")
    rate = truth.assign(isolated=truth["state"] == 2).groupby("household_id")["isolated"].mean()
    people = first.set_index("household_id").join(rate.rename("isolated"))
    alone = people["household_size"] == 1
    assert people.loc[alone, "isolated"].mean() > 3 * people.loc[~alone, "isolated"].mean()
    assert (
        people.loc[people["head_sex"] == "M", "isolated"].mean()
        > people.loc[people["head_sex"] == "F", "isolated"].mean()
    )
    vulnerable = people["housing_type"].isin(["gosiwon", "semi_basement"])
    assert people.loc[vulnerable, "isolated"].mean() > 2 * people.loc[~vulnerable, "isolated"].mean()
    assert people.loc[~alone, "isolated"].mean() > 0  # concentrated, not exclusive


def test_a_linear_model_of_the_attributes_cannot_match_the_true_probability(city: Path) -> None:
    truth = truth_of(city)
    month = truth[truth["month"] == pd.Timestamp("2025-11-01")]
    later = truth[truth["month"].between(pd.Timestamp("2025-11-01"), pd.Timestamp("2026-01-01"))]
    positive = later.groupby("household_id")["state"].max().ge(1)
    people = read(city, "households").drop_duplicates("household_id", keep="last").set_index("household_id")
    frame = (
        month.set_index("household_id")
        .join(people)
        .join(positive.rename("positive"))
        .dropna(subset=["positive"])
    )
    x = pd.get_dummies(
        frame[
            ["head_birth_year", "household_size", "housing_type", "tenure", "livelihood_status", "head_sex"]
        ],
        columns=["housing_type", "tenure", "livelihood_status", "head_sex"],
        dtype=float,
    ).assign(medical_aid=frame["medical_aid"].astype(float), disability=frame["disability"].astype(float))
    x = (x - x.mean()) / x.std().replace(0, 1)
    y = frame["positive"].astype(int).to_numpy()
    linear = LogisticRegression(max_iter=2000).fit(x, y).predict_proba(x)[:, 1]
    assert roc_auc_score(y, frame["p_positive_90d"]) > roc_auc_score(y, linear) + 0.05


def test_visits_follow_lists_and_alerts_while_surveys_sample_evenly(city: Path) -> None:
    visits = read(city, "outreach_visits")
    counts = visits["trigger"].value_counts(normalize=True)
    assert counts["system_list"] > 0.5 and counts["survey"] > 0.1
    people = read(city, "households").drop_duplicates("household_id").set_index("household_id")
    alone_share = (people["household_size"] == 1).mean()
    survey = visits[visits["trigger"] == "survey"].join(people, on="household_id")
    assert abs((survey["household_size"] == 1).mean() - alone_share) < 0.05
    positive = visits["outcome"].isin(["isolated", "at_risk"])
    by_trigger = positive.groupby(visits["trigger"]).mean()
    assert by_trigger["survey"] < by_trigger["system_list"] < by_trigger["referral"]
    assert (
        visits.loc[~visits["outcome"].isin(["isolated", "at_risk", "not_isolated"]), "checklist_score"]
        .isna()
        .all()
    )


def test_isolated_households_withdraw_gradually_in_phone_activity(city: Path) -> None:
    readings = read(city, "sensor_readings")
    phone = readings[readings["channel"] == "phone_events"]
    truth = truth_of(city)[["household_id", "month", "state"]]
    phone = phone.assign(month=phone["ts"].dt.to_period("M").dt.to_timestamp().astype("datetime64[us]"))
    monthly = (
        phone.groupby(["household_id", "month"])["value"]
        .mean()
        .reset_index()
        .merge(truth, on=["household_id", "month"])
    )
    by_state = monthly.groupby("state")["value"].mean()
    assert by_state[0] > by_state[1] > by_state[2] > 0  # less, not nothing


def test_sensor_alerts_mostly_fire_for_households_that_are_fine(city: Path) -> None:
    visits = read(city, "outreach_visits")
    alert_visits = visits[visits["trigger"] == "sensor_alert"]
    if len(alert_visits) >= 10:
        assert alert_visits["outcome"].isin(["isolated", "at_risk"]).mean() < 0.5


@pytest.mark.parametrize("households", [TEST_CITY_HOUSEHOLDS])
def test_generation_summary_counts_what_was_written(city: Path, households: int) -> None:
    import json

    summary = json.loads((city / "_truth" / "generation.json").read_text())
    assert summary["households"] == households
    assert summary["rows"]["households"] == len(read(city, "households"))


def test_households_live_in_real_dongs_of_their_district_sized_by_its_electors(city: Path) -> None:
    registry = pd.read_parquet(city / "households.parquet", columns=["gu", "dong_code"])
    district_of = dong_districts()
    assert registry["dong_code"].map(district_of).eq(registry["gu"]).all()  # every code real, in its gu
    spread = city_report(city).districts.set_index("gu")
    assert spread["dong_share_r"].min() >= 0.9, spread["dong_share_r"].sort_values().head()
    # The whole city's households, apportioned to each district's dongs as its electors are.
    composition = compose_city(200_000, np.random.default_rng(3))
    for g, placed in enumerate(district_dongs()):
        counts = np.bincount(composition.dong_index[composition.gu_index == g], minlength=len(placed.codes))
        assert (counts == apportion(int(counts.sum()), placed.electors)).all()
