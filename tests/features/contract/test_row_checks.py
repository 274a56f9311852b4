"""Reasons are built column-wise: every bad row gets all of its reasons, however many rows are bad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.row_checks import check_batch
from features.contract.schemas import SOURCES_BY_NAME


def _readings(values: list[str], channels: list[str]) -> pa.Table:
    n = len(values)
    return pa.Table.from_pandas(
        pd.DataFrame(
            {
                "household_id": ["H1"] * n,
                "ts": pd.date_range("2025-01-01", periods=n, freq="h").astype("str"),
                "channel": channels,
                "value": values,
            }
        ),
        preserve_index=False,
    )


def test_a_row_failing_several_checks_gets_each_reason_once_in_order() -> None:
    raw = _readings(["-5", "3", "1e9"], ["radio", "phone_events", "phone_events"])
    verdict = check_batch(raw, SOURCES_BY_NAME["sensor_readings"], first_row=10)
    reasons = verdict.quarantined.set_index("_row")["_reason"]
    assert list(reasons.index) == [10, 12]
    assert reasons[10].startswith("channel: 'radio' is not one of")
    assert "value: -5.0 is below the minimum 0" in reasons[10]
    assert reasons[12] == "value is above the largest plausible reading for its channel"
    assert list(verdict.accepted["_row"]) == [11]


def test_every_one_of_many_bad_rows_is_quarantined_with_its_reason() -> None:
    n = 200_000
    bad = np.arange(n) % 2 == 0
    raw = _readings(list(np.where(bad, "100000", "2")), ["phone_events"] * n)
    verdict = check_batch(raw, SOURCES_BY_NAME["sensor_readings"], first_row=1)
    assert len(verdict.accepted) + len(verdict.quarantined) == n
    assert list(verdict.quarantined["_row"]) == list(np.flatnonzero(bad) + 1)
    assert (
        verdict.quarantined["_reason"] == "value is above the largest plausible reading for its channel"
    ).all()


def test_the_direct_checks_find_exactly_what_pandera_s_own_report_finds() -> None:
    from features.contract.parsing import parse_column
    from features.contract.row_checks import _pandera_failures, _schema_failures
    from tests.support.deliveries import valid_frames

    spec = SOURCES_BY_NAME["households"]
    frame = valid_frames()["households"]
    good = frame.iloc[0].to_dict()
    broken = pd.DataFrame(
        [
            {**good, "household_id": "H7", "gu": "해운대구", "household_size": 0},
            {
                **good,
                "household_id": "H8",
                "valid_from": pd.Timestamp("2024-05-01"),
                "valid_to": pd.Timestamp("2024-02-01"),
            },
            {**good, "household_id": "H9", "head_sex": None, "head_birth_year": 2029},
            {**good, "household_id": "", "tenure": "castle"},
        ]
    )
    raw = pa.Table.from_pandas(
        pd.concat([frame, broken], ignore_index=True).astype("str"), preserve_index=False
    )
    typed = pd.DataFrame({c: parse_column(raw.column(c), spec.kind(c), c)[0] for c in spec.columns})
    typed.loc[typed["head_sex"] == "None", "head_sex"] = pd.NA

    def as_set(failures: pd.DataFrame) -> set[tuple[int, object, str]]:
        return set(failures[["row", "column", "text"]].itertuples(index=False, name=None))

    direct = as_set(_schema_failures(typed, spec))
    assert len(direct) >= 7
    assert direct == as_set(_pandera_failures(typed, spec))


def test_invisible_characters_are_found_in_every_chunk_and_only_within_each_slice() -> None:
    n = 100_000
    ids = [f"H{i:07d}" for i in range(n)]
    hidden = {17: "H\u200b0000017", 60_001: "H\u202e0060001"}
    for row, value in hidden.items():
        ids[row] = value
    column = pa.array(ids)
    # Slices share the whole buffer: a character outside a slice must not count inside it.
    chunked = pa.chunked_array([column.slice(0, 50_000), column.slice(50_000)])
    raw = pa.table(
        {
            "household_id": chunked,
            "ts": pd.date_range("2025-01-01", periods=n, freq="h").astype("str"),
            "channel": ["power_w"] * n,
            "value": ["1"] * n,
        }
    )
    verdict = check_batch(raw, SOURCES_BY_NAME["sensor_readings"], first_row=1)
    reasons = verdict.quarantined.set_index("_row")["_reason"]
    assert list(reasons.index) == [18, 60_002]
    assert reasons[18].startswith("household_id: 'H\\u200b0000017' contains U+200B ZERO WIDTH SPACE")
    assert reasons[60_002].startswith("household_id: 'H\\u202e0060001' contains U+202E")
    assert len(verdict.accepted) == n - 2


def test_a_value_that_does_not_parse_is_blamed_for_itself_not_for_a_comparison_it_cannot_make() -> None:
    verdict = check_batch(_readings(["abc"], ["power_w"]), SOURCES_BY_NAME["sensor_readings"], 1)
    [reason] = verdict.quarantined["_reason"]
    assert reason == "value: 'abc' is not a finite number"


def test_a_value_that_does_not_parse_leaves_the_rows_other_comparisons_judged() -> None:
    """household_size 'three' is blanked; the backwards validity period is still refused."""
    row = {
        "household_id": "H1",
        "valid_from": "2024-01-01",
        "valid_to": "2023-01-01",
        "gu": "관악구",
        "dong_code": "1162052500",
        "head_birth_year": "1950",
        "head_sex": "F",
        "household_size": "three",
        "housing_type": "apartment",
        "tenure": "owner",
        "moved_in": "2010-01-01",
        "livelihood_status": "none",
        "medical_aid": "false",
        "disability": "false",
    }
    raw = pa.Table.from_pandas(pd.DataFrame([row]), preserve_index=False)
    verdict = check_batch(raw, SOURCES_BY_NAME["households"], 1)
    assert len(verdict.accepted) == 0 and len(verdict.blanked) == 0
    [reason] = verdict.quarantined["_reason"]
    assert "valid_to must be after valid_from" in reason and "household_size" in reason
