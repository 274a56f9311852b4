"""The feature table of a round: who is in it, which columns, zero versus missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalogue import names
from features.round_table import (
    AUDIT_COLUMNS,
    IDENTITY_COLUMNS,
    KNOWN_COLUMNS,
    build_round,
    build_training_set,
    manifest_path,
    survey_sources,
    write_round,
    write_table,
)
from tests.support.deliveries import D, valid_frames, write_delivery


def test_table_has_every_registered_household_and_exactly_the_catalogue_columns(tmp_path: Path) -> None:
    table, manifest = build_round(write_delivery(tmp_path / "delivery"), D("2025-03-31"))
    assert list(table.columns) == [*IDENTITY_COLUMNS, *AUDIT_COLUMNS, *names(), *KNOWN_COLUMNS]
    assert table["household_id"].tolist() == ["H1", "H2", "H3"]
    assert all(table[name].dtype == "float64" for name in names())
    assert manifest.rows == 3 and manifest.catalogue_version


def test_the_last_finding_is_the_latest_visit_that_found_isolation_or_risk_by_the_round(
    tmp_path: Path,
) -> None:
    frames = valid_frames()
    visits = frames["outreach_visits"]
    more = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H3", "H3"],
            "visited_on": [D("2025-01-10"), D("2025-06-01"), D("2025-02-01"), D("2025-03-01")],
            "trigger": ["survey", "system_list", "referral", "survey"],
            "outcome": ["at_risk", "isolated", "at_risk", "unreachable"],
            "checklist_score": pd.array([6, 11, 7, pd.NA], dtype="Int64"),
        }
    )
    frames["outreach_visits"] = pd.concat([visits, more], ignore_index=True)
    table, _ = build_round(write_delivery(tmp_path / "delivery", frames), D("2025-04-05"))
    found = table.set_index("household_id")["last_finding_on"]
    # H1: isolated on 04-02 (the June visit is after the round); H2: only a visit that found
    # nothing; H3: at risk on 02-01 (the later unreachable visit found nothing)
    assert found["H1"] == pd.Timestamp("2025-04-02") and found["H3"] == pd.Timestamp("2025-02-01")
    assert pd.isna(found["H2"])
    assert "last_finding_on" not in names()  # never a model input


def test_registry_follows_the_effective_dated_row_valid_on_the_round(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    before, _ = build_round(delivery, D("2025-02-28"))
    after, _ = build_round(delivery, D("2025-03-01"))
    h3_before = before.set_index("household_id").loc["H3"]
    h3_after = after.set_index("household_id").loc["H3"]
    assert (h3_before["household_size"], h3_before["household_shrunk_12m"]) == (2.0, 0.0)
    assert (h3_after["household_size"], h3_after["household_shrunk_12m"]) == (1.0, 1.0)
    assert h3_after["livelihood_status"] == 1.0  # applied


def test_households_not_yet_registered_are_not_in_the_round(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["households"].loc[1, "valid_from"] = D("2025-06-01")
    table, _ = build_round(write_delivery(tmp_path / "delivery", frames), D("2025-03-31"))
    assert "H2" not in set(table["household_id"])


def test_no_crisis_report_is_zero_but_no_sensor_is_missing(tmp_path: Path) -> None:
    table, _ = build_round(write_delivery(tmp_path / "delivery"), D("2025-03-31"))
    h2 = table.set_index("household_id").loc["H2"]
    assert h2["crisis_utility_12m"] == 0.0 and h2["crisis_distinct_12m"] == 0.0
    assert np.isnan(h2["crisis_days_since_last"])
    assert h2["sensor_enrolled"] == 0.0
    assert np.isnan(h2["sensor_standby_share_7d"]) and np.isnan(h2["ai_call_unanswered_streak"])


def test_a_new_indicator_code_counts_under_other_and_adds_no_column(tmp_path: Path) -> None:
    frames = valid_frames()
    new = frames["crisis_events"].iloc[[0]].assign(indicator="ENERGY_VOUCHER_UNUSED")
    frames["crisis_events"] = pd.concat([frames["crisis_events"], new], ignore_index=True)
    plain, _ = build_round(write_delivery(tmp_path / "plain"), D("2025-03-31"))
    grown, _ = build_round(write_delivery(tmp_path / "grown", frames), D("2025-03-31"))
    assert list(grown.columns) == list(plain.columns)
    h1 = grown.set_index("household_id").loc["H1"]
    assert h1["crisis_other_3m"] == 1.0 and h1["crisis_utility_3m"] == 2.0


def test_crisis_windows_count_by_reporting_date_not_reference_month(tmp_path: Path) -> None:
    # H3's health-insurance arrears refer to February but reached the city on 2 May.
    delivery = write_delivery(tmp_path / "delivery")
    april, _ = build_round(delivery, D("2025-04-30"))
    may, _ = build_round(delivery, D("2025-05-02"))
    assert april.set_index("household_id").loc["H3", "crisis_insurance_3m"] == 0.0
    assert may.set_index("household_id").loc["H3", "crisis_insurance_3m"] == 1.0


def test_training_set_labels_visits_in_the_90_days_after_each_round(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    table, manifest = build_training_set(delivery, [D("2025-01-01"), D("2025-03-31"), D("2025-04-05")])
    labels = table.set_index(["round_date", "household_id"])["label"]
    assert np.isnan(labels[(D("2025-01-01"), "H1")])  # the visit on 2 April is 91 days later
    assert labels[(D("2025-03-31"), "H1")] == 1.0  # found isolated
    assert labels[(D("2025-03-31"), "H2")] == 0.0  # found not isolated
    assert np.isnan(labels[(D("2025-03-31"), "H3")])  # never visited: unlabelled, not negative
    assert labels[(D("2025-04-05"), "H2")] == 0.0 and np.isnan(labels[(D("2025-04-05"), "H1")])
    assert manifest.label_framing.startswith("visit_within_90d")
    assert (manifest.labelled_rows, manifest.positive_rows) == (3, 1)


def test_each_survey_label_names_whether_a_sample_recorded_before_the_visit_drew_it(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["households"] = pd.concat(
        [
            frames["households"],
            frames["households"].iloc[[0, 1]].assign(household_id=["H4", "H5"]),
        ],
        ignore_index=True,
    )
    frames["outreach_visits"] = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H3", "H4", "H4", "H5"],
            "visited_on": [D(d) for d in ("2025-04-02", "2025-04-09", "2025-04-10", "2025-05-20")]
            + [D("2025-04-03"), D("2025-06-20"), D("2025-04-15")],
            "trigger": ["survey", "survey", "survey", "referral", "survey", "survey", "survey"],
            "outcome": [
                "isolated",
                "not_isolated",
                "at_risk",
                "isolated",
                "isolated",
                "not_isolated",
                "at_risk",
            ],
            "checklist_score": pd.array([10, 1, 6, 11, 10, 2, 7], dtype="Int64"),
        }
    )
    frames["survey_samples"] = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H2", "H4", "H5"],
            "sweep": [
                "2025-04 강남구",
                "2025-04 중랑구",
                "2025-09 중랑구",
                "2025-05 강남구",
                "2024-06 중랑구",
            ],
            "drawn_on": [D("2025-03-25"), D("2025-04-12"), D("2025-09-01"), D("2025-05-01"), D("2024-06-01")],
        }
    )
    delivery = write_delivery(tmp_path / "delivery", frames)
    sources = survey_sources(delivery, D("2025-03-31")).set_index("household_id")["source"]
    assert sources.to_dict() == {
        "H1": "recorded_sample",  # drawn a week before its visit
        "H2": "drawn_after_visit",  # the earliest draw in the window came three days after the visit
        "H3": "no_recorded_sample",  # no sample names it; its referral visit is no survey label
        "H4": "drawn_after_visit",  # drawn between its two survey visits: the first one, which
        # found it isolated, was chosen before any draw
        "H5": "no_recorded_sample",  # drawn ten months before: a sweep long past vouches for nothing
    }
    assert survey_sources(delivery, D("2025-06-30")).empty  # no survey visit in that window


def test_without_a_samples_file_every_survey_label_is_from_no_recorded_sample(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    sources = survey_sources(delivery, D("2025-03-31"))
    assert sources.to_dict("records") == [{"household_id": "H2", "source": "no_recorded_sample"}]


def test_manifest_records_round_inputs_and_catalogue(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    table, manifest = build_round(delivery, D("2025-03-31"))
    out = write_table(table, manifest, tmp_path / "round.parquet")
    recorded = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert recorded["round_dates"] == ["2025-03-31"]
    assert len(recorded["inputs"]["households.parquet"]) == 64
    assert recorded["households_per_round"] == {"2025-03-31": 3}
    assert pd.read_parquet(out).shape == table.shape


def test_streamed_round_file_equals_the_in_memory_table(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    table, _ = build_round(delivery, D("2025-03-31"))
    manifest = write_round(delivery, D("2025-03-31"), tmp_path / "round.parquet")
    written = pd.read_parquet(tmp_path / "round.parquet")
    assert manifest.rows == len(table)
    assert list(written.columns) == list(table.columns)
    pd.testing.assert_frame_equal(
        written.astype({c: "str" for c in ("household_id", *AUDIT_COLUMNS)}).astype(
            {"round_date": "datetime64[us]"}
        ),
        table,
    )


def test_a_delivery_validated_through_a_relative_path_is_found_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from features.contract.delivery import validate_delivery

    write_delivery(tmp_path / "delivery")
    monkeypatch.chdir(tmp_path)
    validate_delivery(Path("delivery"))
    monkeypatch.chdir(tmp_path.parent)
    table, _ = build_round(tmp_path / "delivery", D("2025-03-31"))
    assert len(table) == 3


def test_a_validated_delivery_missing_a_required_file_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    from features.contract.delivery import ContractError, validate_delivery
    from features.delivery_views import connect

    report = validate_delivery(write_delivery(tmp_path / "delivery"))
    (Path(report.out_dir) / "households.parquet").unlink()
    with pytest.raises(ContractError, match=r"households\.parquet: missing from the validated delivery"):
        connect(Path(report.out_dir))


def test_a_registry_row_with_an_inconsistent_attribute_keeps_its_household_in_the_round(
    tmp_path: Path,
) -> None:
    frames = valid_frames()
    households = frames["households"]
    first = households.index[households["household_id"] == "H1"]
    households.loc[first, "head_birth_year"] = households.loc[first, "valid_from"].dt.year + 5
    households.loc[households["household_id"] == "H2", "housing_type"] = "castle"
    clean, _ = build_round(write_delivery(tmp_path / "clean"), D("2025-03-31"))
    table, _ = build_round(write_delivery(tmp_path / "delivery", frames), D("2025-03-31"))
    assert list(table["household_id"]) == list(clean["household_id"])
    rows, before = table.set_index("household_id"), clean.set_index("household_id")
    assert np.isnan(rows.loc["H1", "age"]) and not np.isnan(before.loc["H1", "age"])
    assert np.isnan(rows.loc["H2", "housing_type"])
    untouched = [c for c in rows.columns if c not in ("age", "age_band", "housing_type", "housing_type_name")]
    pd.testing.assert_frame_equal(rows[untouched], before[untouched])
