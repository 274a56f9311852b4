"""The whole round check on the served city's champion, each delivery changed on purpose: the
change is named in the first three findings and graded as intended (a lost source or a changed unit
stops the round; a re-coded district and a real change of the registry's ages only warn), and the
same city delivered clean has no error and at most one warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from features.contract.delivery import validate_delivery
from features.health.findings import Grade
from serving.health.round import RoundHealth, check_round
from serving.scoring.champion import load_champion
from tests.support.changed import (
    copy_delivery,
    older_registry,
    power_times_a_thousand,
    recode_district,
    remove_indicator,
)
from tests.support.served import ROUND, Served


def _checked(
    served: Served, tmp_path: Path, change: Callable[[Path, pd.Timestamp], object] | None
) -> RoundHealth:
    delivery = copy_delivery(served.data, tmp_path / "city")
    if change is not None:
        change(delivery, ROUND)
    validate_delivery(delivery)
    return check_round(delivery, ROUND, load_champion())


def _said(health: RoundHealth) -> list[str]:
    return [f"{f.grade}: {f.sentence}" for f in health.findings]


def test_the_clean_round_has_no_error_and_at_most_one_warning(models_env: Served, tmp_path: Path) -> None:
    health = _checked(models_env, tmp_path, None)
    assert health.errors == [] and len(health.warnings) <= 1, _said(health)


@pytest.mark.parametrize(
    ("change", "grade", "named"),
    [
        (remove_indicator, Grade.ERROR, {"crisis_events indicator=ELEC_ARREARS"}),
        (power_times_a_thousand, Grade.ERROR, {"sensor_readings", "sensor_readings channel=power_w"}),
    ],
    ids=["indicator removed for two months", "power readings x1000 for a month"],
)
def test_a_lost_source_or_a_changed_unit_stops_the_round_naming_it(
    models_env: Served, tmp_path: Path, change, grade: Grade, named: set[str]
) -> None:
    health = _checked(models_env, tmp_path, change)
    first = health.findings[:3]
    assert first[0].grade is grade, _said(health)
    assert {f.subject for f in first} & named, _said(health)


def test_a_recoded_district_only_warns_naming_the_district(models_env: Served, tmp_path: Path) -> None:
    district = None

    def change(delivery: Path, as_of: pd.Timestamp) -> None:
        nonlocal district
        district = recode_district(delivery, as_of)

    health = _checked(models_env, tmp_path, change)
    assert health.errors == [], _said(health)
    assert f"district {district}" in {f.subject for f in health.findings[:3]}, _said(health)


def test_a_real_change_of_the_registrys_ages_only_warns_naming_the_age(
    models_env: Served, tmp_path: Path
) -> None:
    health = _checked(models_env, tmp_path, older_registry)
    assert health.errors == [], _said(health)
    first = health.findings[:3]
    assert any(f.grade is Grade.WARNING and "age" in f.subject for f in first), _said(health)
