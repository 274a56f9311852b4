"""Reasons are built column-wise: every bad row gets all of its reasons, however many rows are bad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.row_checks import check_batch
from features.schemas import SOURCES_BY_NAME


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
