from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.contract.as_delivered import known_by, read_known_by
from features.contract.files import to_arrow
from features.contract.schemas import SOURCES, SOURCES_BY_NAME

DAY = dt.date(2026, 3, 31)


def test_every_source_says_when_its_rows_become_known() -> None:
    for spec in SOURCES:
        assert spec.known_on in spec.columns, spec.name
        assert set(spec.open_until) <= set(spec.columns), spec.name


def test_a_registry_row_from_after_the_day_is_not_delivered_and_a_later_end_is_still_open() -> None:
    spec = SOURCES_BY_NAME["households"]
    rows = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H2", "H3"],
            "valid_from": pd.to_datetime(["2025-01-01", "2026-04-01", "2025-01-01", "2025-01-01"]),
            "valid_to": pd.to_datetime(["2026-04-01", None, "2026-03-31", None]),
            "gu": ["종로구"] * 4,
            "dong_code": ["1111051500"] * 4,
            "head_birth_year": [1950] * 4,
            "head_sex": ["F"] * 4,
            "household_size": [1] * 4,
            "housing_type": ["apartment"] * 4,
            "tenure": ["owned"] * 4,
            "moved_in": pd.to_datetime(["2010-01-01"] * 4),
            "livelihood_status": ["none"] * 4,
            "medical_aid": [False] * 4,
            "disability": [False] * 4,
        }
    )
    held = known_by(to_arrow(rows, spec), spec, DAY).to_pandas()
    assert held["household_id"].tolist() == ["H1", "H2", "H3"]  # H1's April row is not known yet
    # H1's move on 1 April is not known on 31 March; H2's end on 31 March is.
    assert held["valid_to"].isna().tolist() == [True, False, True]


def test_a_timestamp_source_keeps_the_whole_last_day_and_nothing_after(tmp_path) -> None:
    spec = SOURCES_BY_NAME["ai_calls"]
    rows = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H1"],
            "called_at": pd.to_datetime(
                ["2026-03-31 00:00:00", "2026-03-31 23:59:59", "2026-04-01 00:00:00"]
            ),
            "answered": [True, True, True],
            "duration_s": [10.0, 10.0, 10.0],
            "risk_flag": [False, False, False],
        }
    )
    path = tmp_path / "ai_calls.parquet"
    pq.write_table(to_arrow(rows, spec), path)
    held = read_known_by(path, spec, DAY).to_pandas()
    assert len(held) == 2 and held["called_at"].max() == pd.Timestamp("2026-03-31 23:59:59")


def test_a_source_without_a_known_on_column_is_refused() -> None:
    spec = SOURCES_BY_NAME["ai_calls"]
    from dataclasses import replace

    with pytest.raises(ValueError, match="ai_calls: the contract does not say when"):
        known_by(to_arrow(pd.DataFrame(columns=list(spec.columns)), spec), replace(spec, known_on=""), DAY)
