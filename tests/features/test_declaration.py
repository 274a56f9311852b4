"""A feature is declared once, beside its query, and everything else follows the declaration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.catalogue import FAMILIES, catalogue, family_names, table_order, zero_when_absent
from features.contract.delivery import ensure_validated
from features.declaration import Feature, FeatureFamily, levels_of
from features.delivery_views import connect
from features.round_table import build_round
from tests.support.deliveries import D, valid_frames, write_delivery
from training.config import Features

ROUND = D("2025-03-31")


def test_every_family_query_computes_every_feature_it_declares(tmp_path: Path) -> None:
    report = ensure_validated(write_delivery(tmp_path / "delivery"))
    with connect(Path(report.out_dir)) as con:
        for family in FAMILIES:
            query, params = family.query(ROUND)
            columns = [row[0] for row in con.execute(f"DESCRIBE {query}", params).fetchall()]
            declared = [f.name for f in family.features]
            assert [c for c in columns if c in declared] == declared, family.name


def test_a_household_no_family_knows_gets_zero_or_missing_as_each_feature_declares(tmp_path: Path) -> None:
    frames = valid_frames()
    households = frames["households"]
    alone = households[households["household_id"] == "H2"].assign(household_id="H4")
    frames["households"] = pd.concat([households, alone], ignore_index=True)
    table, _ = build_round(write_delivery(tmp_path / "delivery", frames), ROUND)
    h4 = table.set_index("household_id").loc["H4"]
    for family in FAMILIES[1:]:  # the registry knows every household of the round
        for feature in family.features:
            value = h4[feature.name]
            if feature.fill == "zero":
                assert value == 0.0, feature.name
            else:
                assert np.isnan(value), feature.name
    assert zero_when_absent() == {f.name for f in catalogue() if f.fill == "zero"}
    assert "sensor_enrolled" in zero_when_absent() and "sensor_power_drop_7d" not in zero_when_absent()


def test_the_families_an_experiment_may_choose_are_the_declared_ones() -> None:
    assert tuple(Features().families) == family_names() == ("admin", "crisis", "sensor", "history")
    with pytest.raises(ValidationError, match=r"unknown feature families \['sensors'\]: choose from"):
        Features(families=["admin", "sensors"])
    with pytest.raises(ValidationError, match="named twice"):
        Features(families=["admin", "admin"])


def test_protected_attributes_come_last_and_a_name_declared_twice_is_refused() -> None:
    def query(as_of: pd.Timestamp) -> tuple[str, dict]:
        return "SELECT 1", {}

    first = FeatureFamily(
        "first",
        "a family",
        query,
        (Feature("sex", "성별", "sex", "flag", protected=True), Feature("age", "나이", "age", "years")),
    )
    second = FeatureFamily(
        "second", "another", query, (Feature("visits", "방문", "visits", "count", fill="zero"),)
    )
    assert [f.name for f in table_order((first, second))] == ["age", "visits", "sex"]
    assert [f.family for f in table_order((first, second))] == ["first", "second", "first"]
    twin = FeatureFamily("twin", "a copy", query, (Feature("age", "나이", "age", "years"),))
    with pytest.raises(ValueError, match=r"declared more than once .*'age': \['first', 'twin'\]"):
        table_order((first, twin))


def test_a_declaration_that_cannot_be_read_as_a_reason_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="both its Korean and its English sentence"):
        Feature("age", "나이", "age", "years", reason_ko="{value}세")
    with pytest.raises(ValueError, match="never a reason"):
        Feature("sex", "성별", "sex", "flag", reason_ko="여성", reason_en="female", protected=True)
    with pytest.raises(ValueError, match="in days or in months"):
        Feature("calls", "통화", "calls", "count", window_days=90, window_months=3)


def test_level_names_follow_the_contract_values_in_their_order() -> None:
    levels = levels_of(("owner", "other"), {"other": ("기타", "other"), "owner": ("자가", "owner")})
    assert [level.name for level in levels] == ["owner", "other"]
    with pytest.raises(ValueError, match=r"without a name \['other'\], not in the contract \['renter'\]"):
        levels_of(("owner", "other"), {"owner": ("자가", "owner"), "renter": ("월세", "renter")})
