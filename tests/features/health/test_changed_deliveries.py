"""Deliveries changed on purpose: each change named in the first findings and graded as intended;
the same city delivered clean raises no error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract.delivery import validate_delivery
from features.health.delivery import delivery_findings
from features.health.findings import Finding, Grade
from synthetic.generator import generate_city
from tests.support.changed import copy_delivery, power_times_a_thousand, recode_district, remove_indicator

AS_OF = pd.Timestamp("2026-09-30")


def _findings(delivery: Path) -> list[Finding]:
    validate_delivery(delivery)
    return delivery_findings(delivery / "_validated", AS_OF)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate_city(out, households=3_000, months=18, seed=5)
    return out


def _changed(clean: Path, tmp_path: Path) -> Path:
    return copy_delivery(clean, tmp_path / "delivery")


def test_the_clean_delivery_raises_no_error(clean: Path, tmp_path: Path) -> None:
    findings = _findings(_changed(clean, tmp_path))
    assert [f for f in findings if f.grade is Grade.ERROR] == []
    assert len(findings) <= 1, [f.sentence for f in findings]


def test_an_indicator_source_removed_for_two_months_is_an_error_naming_it(
    clean: Path, tmp_path: Path
) -> None:
    delivery = _changed(clean, tmp_path)
    remove_indicator(delivery, AS_OF)
    first = _findings(delivery)[:3]
    assert first[0].grade is Grade.ERROR and first[0].subject == "crisis_events indicator=ELEC_ARREARS"
    assert "2026-08–2026-09" in first[0].sentence


def test_power_readings_times_a_thousand_for_the_last_month_are_an_error_naming_the_meter(
    clean: Path, tmp_path: Path
) -> None:
    delivery = _changed(clean, tmp_path)
    power_times_a_thousand(delivery, AS_OF)
    first = _findings(delivery)[:3]
    assert all(f.grade is Grade.ERROR for f in first[:2]), [f.sentence for f in first]
    named = {f.subject for f in first}
    assert named & {"sensor_readings", "sensor_readings channel=power_w"}, [f.sentence for f in first]


def test_one_districts_dong_codes_replaced_is_a_warning_naming_the_district(
    clean: Path, tmp_path: Path
) -> None:
    """As an effective-dated registry says it: each open row of the district closes on the day of
    the change, and a row with the new code opens that day."""
    delivery = _changed(clean, tmp_path)
    district = recode_district(delivery, AS_OF)
    first = _findings(delivery)[:3]
    assert [f.subject for f in first] == [f"district {district}"], [f.sentence for f in first]
    assert first[0].grade is Grade.WARNING and "re-coded" in first[0].sentence
