"""A feature held against the profile of the rows a model learnt from."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.health.drift import PSI_WARNING, FeatureProfile, drift_findings, profiles, psi, shift_of
from features.health.findings import Grade
from features.health.reference import Reference, top_shares

RNG = np.random.default_rng(3)


def test_the_same_distribution_drawn_again_is_stable() -> None:
    reference = FeatureProfile.of("arrears_months", RNG.gamma(2.0, 3.0, 50_000))
    shift = shift_of(reference, RNG.gamma(2.0, 3.0, 50_000))
    assert shift.psi < 0.01
    assert drift_findings([shift]) == []


def test_a_shifted_distribution_is_a_warning_with_its_index() -> None:
    reference = FeatureProfile.of("arrears_months", RNG.gamma(2.0, 3.0, 50_000))
    shift = shift_of(reference, RNG.gamma(2.0, 3.0, 50_000) * 1.6)
    (finding,) = drift_findings([shift])
    assert finding.grade is Grade.WARNING and finding.check == "shift"
    assert finding.subject == "feature arrears_months"
    assert shift.psi >= PSI_WARNING and f"{shift.psi:.2f}" in finding.sentence


def test_a_feature_that_moves_between_training_rounds_must_move_further_to_warn() -> None:
    rounds = [RNG.gamma(2.0, 3.0 * scale, 20_000) for scale in (1.0, 2.0, 4.0)]
    train = pd.DataFrame({"round_date": np.repeat([1, 2, 3], 20_000), "days_since": np.concatenate(rounds)})
    reference = profiles(train, ["days_since"])["days_since"]
    assert reference.usual_psi > PSI_WARNING / 2
    like_its_rounds = shift_of(reference, RNG.gamma(2.0, 3.0 * 4.0, 20_000))
    assert like_its_rounds.psi >= PSI_WARNING and drift_findings([like_its_rounds]) == []
    beyond = shift_of(reference, RNG.gamma(2.0, 3.0 * 16.0, 20_000))
    assert [f.subject for f in drift_findings([beyond])] == ["feature days_since"]


def test_features_of_one_family_that_moved_together_are_one_finding_naming_them() -> None:
    reference = {f: FeatureProfile.of(f, RNG.normal(size=20_000)) for f in ("standby_w", "light_drop", "age")}
    shifts = [shift_of(reference["standby_w"], RNG.normal(2.0, size=20_000))]
    shifts += [shift_of(reference["light_drop"], RNG.normal(1.0, size=20_000))]
    shifts += [shift_of(reference["age"], RNG.normal(size=20_000))]
    family = {"standby_w": "sensor", "light_drop": "sensor", "age": "admin"}
    (finding,) = drift_findings(shifts, family)
    assert finding.subject == "features of sensor (standby_w, light_drop)"


def test_psi_is_the_textbook_sum() -> None:
    expected, actual = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]
    by_hand = sum((a - e) * np.log(a / e) for a, e in zip(actual, expected, strict=True))
    assert psi(expected, actual) == pytest.approx(by_hand)


def test_a_feature_gone_missing_is_an_error_and_a_rise_in_missing_a_warning() -> None:
    values = RNG.normal(size=10_000)
    values[:1_000] = np.nan
    reference = FeatureProfile.of("standby_w", values)
    assert reference.missing_share == pytest.approx(0.1)
    (gone,) = drift_findings([shift_of(reference, np.full(5_000, np.nan))])
    assert gone.grade is Grade.ERROR and "100%" in gone.sentence and "10%" in gone.sentence
    more = RNG.normal(size=10_000)
    more[:4_000] = np.nan
    (rise,) = drift_findings([shift_of(reference, more)])
    assert rise.grade is Grade.WARNING and "missing for 40% against 10%" in rise.sentence


def test_a_few_valued_feature_is_binned_value_by_value_and_new_values_fall_in_other() -> None:
    reference = FeatureProfile.of("housing_code", RNG.choice([1.0, 2.0, 3.0], size=3_000, p=[0.5, 0.3, 0.2]))
    assert reference.discrete and reference.cuts == [1.0, 2.0, 3.0]
    shares, missing = reference.binned(np.array([1.0, 1.0, 7.0, 3.0]))
    assert shares == [0.5, 0.0, 0.25, 0.25] and missing == 0.0


def test_a_reference_survives_json_and_counts_each_districts_top_share() -> None:
    train = pd.DataFrame(
        {
            "round_date": pd.to_datetime(["2026-01-31"] * 500 + ["2026-03-31"] * 500),
            "x": RNG.normal(size=1_000),
        }
    )
    test = pd.DataFrame(
        {"round_date": pd.to_datetime(["2026-05-31"] * 400), "gu": ["종로구"] * 200 + ["중구"] * 200}
    )
    risk = np.r_[np.full(200, 0.9), np.full(200, 0.1)]
    reference = Reference.of(train, ["x"], test, risk)
    assert reference.rounds == ["2026-01-31", "2026-03-31"] and reference.test_round == "2026-05-31"
    assert reference.top_households == 4 and reference.top_share_by_district == {"종로구": 1.0, "중구": 0.0}
    again = Reference.from_json(json.loads(reference.text()))
    assert again == reference
    assert top_shares(pd.Series(["a", "b", "b"]), np.array([0.1, 0.2, 0.3]))[0] == {"a": 0.0, "b": 1.0}


def test_a_feature_never_present_in_the_training_rows_can_be_held_against_them() -> None:
    reference = FeatureProfile.of("call_topics", np.full(1_000, np.nan))
    assert reference.cuts == [] and reference.missing_share == 1.0
    shift = shift_of(reference, RNG.normal(size=500))
    assert shift.shares == [1.0] and shift.missing_share == 0.0
    assert drift_findings([shift]) == []  # nothing to compare a distribution with, and nothing lost
