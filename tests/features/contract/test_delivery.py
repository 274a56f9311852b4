"""The contract reader: bad input is named, quarantined with a reason, and never lost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.contract.delivery import ContractError, DeliveryReport, read_accepted, validate_delivery
from tests.support.deliveries import D, as_csv, valid_frames, write_delivery


def quarantine(report: DeliveryReport, name: str) -> pd.DataFrame:
    return pq.read_table(Path(report.out_dir) / "quarantine" / f"{name}.parquet").to_pandas()


def assert_nothing_lost(report: DeliveryReport) -> None:
    for source in report.sources:
        assert source.rows_read == source.rows_accepted + source.rows_quarantined, source
        assert (
            source.rows_read == source.rows_accepted_whole + source.rows_blanked + source.rows_quarantined
        ), source
        if source.delivered:
            accepted = pq.read_metadata(Path(report.out_dir) / f"{source.name}.parquet").num_rows
            assert accepted == source.rows_accepted
            listed = quarantine(report, source.name)
            assert listed["_blanked"].isna().sum() == source.rows_quarantined
            assert listed["_blanked"].notna().sum() == source.rows_blanked


def with_rows(name: str, rows: list[dict]) -> dict[str, pd.DataFrame]:
    frames = valid_frames()
    extra = pd.DataFrame(rows).astype(frames[name].dtypes.to_dict())
    frames[name] = pd.concat([frames[name], extra], ignore_index=True)
    return frames


def reasons_by_row(report: DeliveryReport, name: str) -> dict[int, str]:
    q = quarantine(report, name)
    return dict(zip(q["_row"], q["_reason"], strict=True))


def test_a_valid_delivery_is_accepted_whole(tmp_path: Path) -> None:
    report = validate_delivery(write_delivery(tmp_path / "delivery"))
    assert_nothing_lost(report)
    assert all(s.rows_quarantined == 0 for s in report.sources)
    assert report.source("households").rows_accepted == 4
    assert (Path(report.out_dir) / "validation.json").is_file()


def test_missing_required_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    (delivery / "crisis_events.parquet").unlink()
    with pytest.raises(ContractError, match=r"crisis_events\.parquet \(or crisis_events\.csv\)"):
        validate_delivery(delivery)


def test_missing_column_is_an_error_naming_file_and_column(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["outreach_visits"] = frames["outreach_visits"].drop(columns="checklist_score")
    delivery = tmp_path / "delivery"
    write_delivery(delivery, {k: v for k, v in frames.items() if k != "outreach_visits"})
    frames["outreach_visits"].to_parquet(delivery / "outreach_visits.parquet")
    with pytest.raises(ContractError, match=r"outreach_visits\.parquet: .*checklist_score"):
        validate_delivery(delivery)


def test_optional_call_center_file_may_be_absent(tmp_path: Path) -> None:
    frames = valid_frames()
    del frames["call_center_contacts"]
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    assert not report.source("call_center_contacts").delivered
    assert read_accepted(Path(report.out_dir), "call_center_contacts").empty


def test_extra_columns_are_ignored_and_reported(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    visits = valid_frames()["outreach_visits"].assign(worker_note="called twice")
    visits.to_parquet(delivery / "outreach_visits.parquet")
    report = validate_delivery(delivery)
    assert report.source("outreach_visits").ignored_columns == ["worker_note"]
    assert report.source("outreach_visits").rows_accepted == 2


def test_household_rows_breaking_the_contract_are_quarantined_with_reasons(tmp_path: Path) -> None:
    good = valid_frames()["households"].iloc[0].to_dict()
    frames = with_rows(
        "households",
        [
            {**good, "household_id": "H7", "gu": "해운대구"},
            {**good, "household_id": "H8", "valid_from": D("2024-05-01"), "valid_to": D("2024-02-01")},
            {**good, "household_id": "H9", "household_size": 0},
            {**good, "household_id": "H10", "head_birth_year": 2026},
        ],
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    assert_nothing_lost(report)
    reasons = reasons_by_row(report, "households")
    assert "gu: '해운대구' is not one of the 25 values" in reasons[5]
    assert reasons[6] == "valid_to must be after valid_from"
    # One implausible or inconsistent attribute blanks that attribute; the household stays.
    assert reasons[7] == "household_size: 0 is below the minimum 1"
    assert reasons[8] == "head_birth_year is after the row's valid_from year"
    listed = quarantine(report, "households").set_index("_row")
    assert listed.loc[7, "_blanked"] == "household_size" and listed.loc[8, "_blanked"] == "head_birth_year"
    assert pd.isna(listed.loc[5, "_blanked"]) and pd.isna(listed.loc[6, "_blanked"])
    source = report.source("households")
    assert (source.rows_accepted_whole, source.rows_blanked, source.rows_quarantined) == (4, 2, 2)
    accepted = (
        pq.read_table(Path(report.out_dir) / "households.parquet").to_pandas().set_index("household_id")
    )
    assert pd.isna(accepted.loc["H9", "household_size"]) and pd.isna(accepted.loc["H10", "head_birth_year"])
    assert accepted.loc["H10", "gu"] == good["gu"]


def test_overlapping_registry_periods_quarantine_the_later_row(tmp_path: Path) -> None:
    good = valid_frames()["households"].iloc[0].to_dict()
    frames = with_rows(
        "households", [{**good, "valid_from": D("2024-06-01"), "gu": "중구", "dong_code": "1114052000"}]
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    assert reasons_by_row(report, "households") == {5: "validity overlaps row 1 of the same household"}
    assert_nothing_lost(report)


def test_crisis_events_reported_before_their_month_are_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["crisis_events"].iloc[0].to_dict()
    frames = with_rows(
        "crisis_events",
        [
            {**good, "reference_month": D("2025-06-01"), "reported_on": D("2025-05-20")},
            {**good, "reference_month": D("2025-06-15"), "reported_on": D("2025-07-20")},
            {**good, "amount_krw": -5.0, "reported_on": D("2025-03-11")},
            {**good, "household_id": "H404", "reported_on": D("2025-03-12")},
        ],
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    reasons = reasons_by_row(report, "crisis_events")
    assert reasons[4] == "reported_on is before reference_month"
    assert reasons[5] == "reference_month is not the first day of a month"
    assert reasons[6] == "amount_krw: -5.0 is below the minimum 0"
    assert reasons[7] == "household_id: 'H404' is not in the households registry"
    assert_nothing_lost(report)


def test_unknown_indicator_codes_are_reported_and_kept(tmp_path: Path) -> None:
    good = valid_frames()["crisis_events"].iloc[0].to_dict()
    frames = with_rows(
        "crisis_events",
        [
            {**good, "indicator": "ENERGY_VOUCHER_UNUSED", "reported_on": D(f"2025-03-{day}")}
            for day in (11, 12)
        ],
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    crisis = report.source("crisis_events")
    assert crisis.unknown_indicators == {"ENERGY_VOUCHER_UNUSED": 2}
    assert crisis.rows_accepted == 5 and crisis.rows_quarantined == 0
    from features.contract.delivery import indicator_category

    assert indicator_category("ENERGY_VOUCHER_UNUSED") == "other"
    assert indicator_category("ELEC_ARREARS") == "utility"


def test_duplicate_sensor_readings_are_deduplicated_and_counted(tmp_path: Path) -> None:
    frames = valid_frames()
    readings = frames["sensor_readings"]
    frames["sensor_readings"] = pd.concat([readings, readings.iloc[[1, 7]]], ignore_index=True)
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    source = report.source("sensor_readings")
    assert (source.rows_read, source.rows_accepted, source.duplicates) == (14, 12, 2)
    assert reasons_by_row(report, "sensor_readings") == {
        13: "duplicate of row 2 (same household_id, ts, channel)",
        14: "duplicate of row 8 (same household_id, ts, channel)",
    }
    accepted = read_accepted(Path(report.out_dir), "sensor_readings")
    assert not accepted.duplicated(["household_id", "ts", "channel"]).any()


def test_impossible_sensor_values_are_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["sensor_readings"].iloc[0].to_dict()
    frames = with_rows(
        "sensor_readings",
        [
            {**good, "ts": D("2025-02-01 00:00"), "value": -1.0},
            {**good, "ts": D("2025-02-01 01:00"), "value": 1e9},
            {**good, "ts": D("2025-02-01 02:00"), "channel": "water_l"},
        ],
    )
    reasons = reasons_by_row(
        validate_delivery(write_delivery(tmp_path / "delivery", frames)), "sensor_readings"
    )
    assert reasons[13] == "value: -1.0 is below the minimum 0"
    assert reasons[14] == "value is above the largest plausible reading for its channel"
    assert reasons[15].startswith("channel: 'water_l' is not one of power_w, light_lux")


def test_risk_flag_on_an_unanswered_call_is_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["ai_calls"].iloc[1].to_dict()
    frames = with_rows("ai_calls", [{**good, "called_at": D("2025-01-20 10:00"), "risk_flag": True}])
    reasons = reasons_by_row(validate_delivery(write_delivery(tmp_path / "delivery", frames)), "ai_calls")
    assert reasons == {3: "risk_flag is set on an unanswered call"}


def test_enrolment_ending_before_it_starts_is_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["sensor_enrollments"].iloc[0].to_dict()
    frames = with_rows("sensor_enrollments", [{**good, "service": "ami", "ended_on": D("2024-01-01")}])
    reasons = reasons_by_row(
        validate_delivery(write_delivery(tmp_path / "delivery", frames)), "sensor_enrollments"
    )
    assert reasons == {3: "ended_on is before enrolled_on"}


def test_visit_with_impossible_score_or_unknown_outcome_is_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["outreach_visits"].iloc[0].to_dict()
    frames = with_rows(
        "outreach_visits",
        [
            {**good, "visited_on": D("2025-05-01"), "checklist_score": 14},
            {**good, "visited_on": D("2025-05-02"), "outcome": "fine"},
        ],
    )
    reasons = reasons_by_row(
        validate_delivery(write_delivery(tmp_path / "delivery", frames)), "outreach_visits"
    )
    assert reasons[3] == "checklist_score: 14 is above the maximum 13"
    assert reasons[4].startswith("outcome: 'fine' is not one of isolated, at_risk")


def test_csv_delivery_is_read_like_parquet_with_explicit_parsing(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    as_csv(
        delivery,
        "ai_calls",
        "household_id,called_at,answered,duration_s,risk_flag\n"
        "H3,2025-01-06 10:00:00,False,,\n"
        "H3,2025-01-13 10:00:00,true,30.5,false\n"
        "H3,2025-01-20 10:00:00,maybe,,\n"
        "H3,someday,true,12,false\n",
    )
    report = validate_delivery(delivery)
    calls = read_accepted(Path(report.out_dir), "ai_calls")
    assert calls["answered"].tolist() == [False, True]  # the text "False" is false, not truthy
    assert str(calls["answered"].dtype) == "boolean"
    assert reasons_by_row(report, "ai_calls") == {
        3: "answered: 'maybe' is not true or false",
        4: "called_at: 'someday' is not a timestamp (YYYY-MM-DD HH:MM:SS, KST)",
    }
    assert_nothing_lost(report)


def test_csv_line_with_wrong_field_count_is_quarantined_and_later_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    as_csv(
        delivery,
        "outreach_visits",
        "household_id,visited_on,trigger,outcome,checklist_score\n"
        "H1,2025-04-02,system_list,isolated,10\n"
        "H2,2025-04-09,survey\n"
        "H2,2025-04-10,survey,fine,3\n",
    )
    report = validate_delivery(delivery)
    reasons = reasons_by_row(report, "outreach_visits")
    assert reasons[2] == "line 3 has 3 fields, expected 5"
    assert reasons[3].startswith("outcome: 'fine'")
    assert_nothing_lost(report)


def test_wrong_physical_type_in_parquet_is_parsed_per_value(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    households = valid_frames()["households"].astype({"household_size": "str"})
    households.loc[1, "household_size"] = "three"
    households.to_parquet(delivery / "households.parquet")
    report = validate_delivery(delivery)
    assert reasons_by_row(report, "households") == {2: "household_size: 'three' is not a whole number"}
    # The size is blanked, H2 stays in the registry, and so do its contact and visit.
    assert report.source("households").rows_blanked == 1
    assert report.source("call_center_contacts").rows_quarantined == 0
    assert_nothing_lost(report)


def test_rows_of_a_household_whose_registry_rows_were_refused_name_that_one_cause(tmp_path: Path) -> None:
    frames = valid_frames()
    households = frames["households"]
    households.loc[households["household_id"] == "H2", "gu"] = "해운대구"
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    reasons = reasons_by_row(report, "call_center_contacts")
    assert list(reasons.values()) == ["household_id: 'H2': its registry rows were refused (households row 2)"]
    assert_nothing_lost(report)


def test_accepted_output_is_itself_a_clean_delivery_with_declared_types(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["sensor_readings"] = pd.concat([frames["sensor_readings"]] * 2, ignore_index=True)
    first = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    again = validate_delivery(Path(first.out_dir), tmp_path / "again")
    assert all(s.rows_quarantined == 0 for s in again.sources)
    households = read_accepted(Path(first.out_dir), "households")
    assert households.dtypes.astype(str).to_dict() == {
        "household_id": "str",
        "valid_from": "datetime64[us]",
        "valid_to": "datetime64[us]",
        "gu": "str",
        "dong_code": "str",
        "head_birth_year": "Int64",
        "head_sex": "str",
        "household_size": "Int64",
        "housing_type": "str",
        "tenure": "str",
        "moved_in": "datetime64[us]",
        "livelihood_status": "str",
        "medical_aid": "boolean",
        "disability": "boolean",
    }


def test_contact_with_unknown_channel_or_topic_is_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["call_center_contacts"].iloc[0].to_dict()
    frames = with_rows(
        "call_center_contacts",
        [
            {**good, "contacted_at": D("2025-02-04 09:00"), "channel": "letter"},
            {**good, "contacted_at": D("2025-02-05 09:00"), "topic": "weather"},
        ],
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    reasons = reasons_by_row(report, "call_center_contacts")
    assert reasons == {
        2: "channel: 'letter' is not one of phone, chat",
        3: "topic: 'weather' is not one of loneliness_talk, information, crisis",
    }
    assert_nothing_lost(report)


def test_ids_with_invisible_or_reordering_characters_are_quarantined_naming_the_character(
    tmp_path: Path,
) -> None:
    households = valid_frames()["households"]
    good = households.iloc[1].to_dict()  # H2, one registry row
    frames = with_rows(
        "households",
        [{**good, "household_id": "H2\u200b"}, {**good, "household_id": "H\u202e2"}],
    )
    events = frames["crisis_events"]
    events.loc[0, "household_id"] = "H1\u200b"  # looks like H1, which is in the registry
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    assert reasons_by_row(report, "households") == {
        5: "household_id: 'H2\\u200b' contains U+200B ZERO WIDTH SPACE, "
        "which no one can see or which reorders the text",
        6: "household_id: 'H\\u202e2' contains U+202E RIGHT-TO-LEFT OVERRIDE, "
        "which no one can see or which reorders the text",
    }
    assert reasons_by_row(report, "crisis_events") == {
        1: "household_id: 'H1\\u200b' contains U+200B ZERO WIDTH SPACE, "
        "which no one can see or which reorders the text",
    }
    accepted = read_accepted(Path(report.out_dir), "households")
    assert sorted(accepted["household_id"].unique()) == ["H1", "H2", "H3"]
    # The summary groups by the character, not by the value that carried it.
    assert report.source("households").reasons == {
        "household_id: … contains U+200B ZERO WIDTH SPACE, which no one can see or which reorders the text": 1,
        "household_id: … contains U+202E RIGHT-TO-LEFT OVERRIDE, "
        "which no one can see or which reorders the text": 1,
    }
    assert_nothing_lost(report)


def test_an_indicator_code_with_a_bidi_isolate_is_quarantined(tmp_path: Path) -> None:
    good = valid_frames()["crisis_events"].iloc[0].to_dict()
    frames = with_rows(
        "crisis_events",
        [{**good, "indicator": "ELEC\u2066_ARREARS\u2069", "reported_on": D("2025-03-11")}],
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    assert reasons_by_row(report, "crisis_events") == {
        4: "indicator: 'ELEC\\u2066_ARREARS\\u2069' contains U+2066 LEFT-TO-RIGHT ISOLATE, "
        "U+2069 POP DIRECTIONAL ISOLATE, which no one can see or which reorders the text"
    }
    crisis = report.source("crisis_events")
    assert crisis.unknown_indicators == {}  # refused, not counted as a new code
    assert (crisis.rows_read, crisis.rows_accepted, crisis.rows_quarantined) == (4, 3, 1)
    assert_nothing_lost(report)


def test_a_registry_attribute_with_an_invisible_character_is_blanked_and_the_row_still_judged(
    tmp_path: Path,
) -> None:
    frames = valid_frames()
    households = frames["households"]
    households.loc[0, "dong_code"] = "1168064000\u200b"  # H1: blanked, the household stays
    households.loc[1, "housing_type"] = "apartment\u00ad"  # H2: blanked, but ...
    households.loc[1, "gu"] = "해운대구"  # ... its district is not in Seoul: refused whole
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    listed = quarantine(report, "households").set_index("_row")
    assert listed.loc[1, "_reason"].startswith("dong_code: '1168064000\\u200b' contains U+200B")
    assert listed.loc[1, "_blanked"] == "dong_code"
    assert listed.loc[2, "_reason"].startswith("housing_type: 'apartment\\u00ad' contains U+00AD SOFT HYPHEN")
    assert "gu: '해운대구' is not one of the 25 values" in listed.loc[2, "_reason"]
    assert pd.isna(listed.loc[2, "_blanked"])
    accepted = read_accepted(Path(report.out_dir), "households").set_index("household_id")
    assert pd.isna(accepted.loc["H1", "dong_code"]) and "H2" not in accepted.index
    source = report.source("households")
    assert (source.rows_accepted_whole, source.rows_blanked, source.rows_quarantined) == (2, 1, 1)
    assert_nothing_lost(report)


def test_a_dong_code_that_is_not_one_of_seouls_dongs_is_blanked_naming_it_and_the_household_stays(
    tmp_path: Path,
) -> None:
    frames = valid_frames()
    households = frames["households"]
    households.loc[0, "dong_code"] = "1168010100"  # H1: an invented code, in no table
    households.loc[1, "dong_code"] = "1162052500"  # H2 (중랑구): 관악구 보라매동, a real dong elsewhere
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    listed = quarantine(report, "households").set_index("_row")
    assert (
        listed.loc[1, "_reason"] == "dong_code: '1168010100' is not one of the 426 values the contract lists"
    )
    assert listed.loc[2, "_reason"] == "dong_code is a dong of another district than the row's gu"
    assert (listed.loc[1, "_blanked"], listed.loc[2, "_blanked"]) == ("dong_code", "dong_code")
    accepted = read_accepted(Path(report.out_dir), "households").set_index("household_id")
    assert accepted.loc["H1", "dong_code"] is pd.NA or pd.isna(accepted.loc["H1", "dong_code"])
    assert pd.isna(accepted.loc["H2", "dong_code"]) and accepted.loc["H2", "gu"] == "중랑구"
    assert set(accepted.loc[["H3"], "dong_code"]) == {"1135070000"}
    source = report.source("households")
    assert (source.rows_accepted, source.rows_blanked, source.rows_quarantined) == (4, 2, 0)
    assert_nothing_lost(report)


def test_an_unparseable_attribute_does_not_hide_another_column_s_fault(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    households = valid_frames()["households"].astype({"household_size": "str"})
    households.loc[1, "household_size"] = "three"
    households.loc[1, "gu"] = "해운대구"
    households.to_parquet(delivery / "households.parquet")
    report = validate_delivery(delivery)
    reason = reasons_by_row(report, "households")[2]
    assert reason.startswith("household_size: 'three' is not a whole number; gu: '해운대구' is not one of")
    assert report.source("households").rows_quarantined == 1
    assert_nothing_lost(report)


def test_csv_text_is_checked_for_invisible_characters_and_its_byte_order_mark_is_not_one(
    tmp_path: Path,
) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    as_csv(
        delivery,
        "call_center_contacts",
        "\ufeffhousehold_id,contacted_at,channel,topic\n"
        "H2,2025-02-03 21:40:00,phone,loneliness_talk\n"
        "H2,2025-02-04 21:40:00,chat\u2028,crisis\n"
        'H2,2025-02-05 21:40:00,"phone\t",crisis\n',
    )
    report = validate_delivery(delivery)
    assert reasons_by_row(report, "call_center_contacts") == {
        2: "channel: 'chat\\u2028' contains U+2028 LINE SEPARATOR, "
        "which no one can see or which reorders the text",
        3: "channel: 'phone\\u0009' contains U+0009 <control>, which no one can see or which reorders the text",
    }
    assert read_accepted(Path(report.out_dir), "call_center_contacts")["household_id"].tolist() == ["H2"]
    assert_nothing_lost(report)


def test_a_survey_sample_row_without_a_visible_sweep_or_household_is_quarantined(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["survey_samples"] = pd.DataFrame(
        {
            "household_id": ["H2", "H1", "H3", "H9"],
            "sweep": ["2025-04 중랑구", "   ", "2025-04 노원구\u202e", "2025-04 노원구"],
            "drawn_on": [D("2025-04-01")] * 4,
        }
    )
    report = validate_delivery(write_delivery(tmp_path / "delivery", frames))
    reasons = reasons_by_row(report, "survey_samples")
    assert set(reasons) == {2, 3, 4}
    assert reasons[2] == "sweep: '   ' holds no visible character"
    assert reasons[3].startswith("sweep: '2025-04 노원구\\u202e' contains")
    assert "H9" in reasons[4] and "registry" in reasons[4]
    assert read_accepted(Path(report.out_dir), "survey_samples")["household_id"].tolist() == ["H2"]
    assert_nothing_lost(report)
