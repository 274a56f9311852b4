"""A small, hand-written valid delivery that tests bend into bad deliveries.

Kept explicit (a few rows per file, written through the contract writer) so each test can say
exactly which row it broke and what the reader must report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract.files import write_source
from features.contract.schemas import SOURCES_BY_NAME

D = pd.Timestamp


def valid_frames() -> dict[str, pd.DataFrame]:
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H3"],
            "valid_from": [D("2024-01-01"), D("2024-01-01"), D("2024-01-01"), D("2025-03-01")],
            "valid_to": [pd.NaT, pd.NaT, D("2025-03-01"), pd.NaT],
            "gu": ["강남구", "중랑구", "노원구", "노원구"],
            "dong_code": ["1168064000", "1126052000", "1135070000", "1135070000"],
            "head_birth_year": [1958, 1990, 1949, 1949],
            "head_sex": ["M", "F", "M", "M"],
            "household_size": [1, 3, 2, 1],
            "housing_type": ["gosiwon", "apartment", "multi_family", "multi_family"],
            "tenure": ["monthly_rent", "owner", "jeonse", "jeonse"],
            "moved_in": [D("2019-05-01"), D("2015-03-01"), D("2001-01-01"), D("2001-01-01")],
            "livelihood_status": ["recipient", "none", "none", "applied"],
            "medical_aid": [True, False, False, False],
            "disability": [False, False, True, True],
        }
    )
    crisis = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H3"],
            "indicator": ["ELEC_ARREARS", "GAS_ARREARS", "HEALTH_INS_ARREARS"],
            "reference_month": [D("2025-01-01"), D("2025-01-01"), D("2025-02-01")],
            "reported_on": [D("2025-03-10"), D("2025-02-20"), D("2025-05-02")],
            "amount_krw": [152_000.0, 88_000.0, 310_000.0],
            "months_overdue": pd.array([3, 2, 4], dtype="Int64"),
        }
    )
    enrollments = pd.DataFrame(
        {
            "household_id": ["H1", "H3"],
            "service": ["smart_plug", "ai_call"],
            "enrolled_on": [D("2024-06-01"), D("2024-02-01")],
            "ended_on": [pd.NaT, pd.NaT],
        }
    )
    hours = pd.date_range("2025-01-01", periods=6, freq="h")
    readings = pd.DataFrame(
        {
            "household_id": ["H1"] * 12,
            "ts": list(hours) * 2,
            "channel": ["power_w"] * 6 + ["light_lux"] * 6,
            "value": [40.0, 38.5, 0.0, 55.1, 120.0, 80.0, 0.0, 0.0, 5.0, 150.0, 300.0, 120.0],
        }
    )
    calls = pd.DataFrame(
        {
            "household_id": ["H3", "H3"],
            "called_at": [D("2025-01-06 10:00"), D("2025-01-13 10:00")],
            "answered": pd.array([True, False], dtype="boolean"),
            "duration_s": [64.0, float("nan")],
            "risk_flag": pd.array([False, None], dtype="boolean"),
        }
    )
    contacts = pd.DataFrame(
        {
            "household_id": ["H2"],
            "contacted_at": [D("2025-02-03 21:40")],
            "channel": ["phone"],
            "topic": ["loneliness_talk"],
        }
    )
    visits = pd.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "visited_on": [D("2025-04-02"), D("2025-04-09")],
            "trigger": ["system_list", "survey"],
            "outcome": ["isolated", "not_isolated"],
            "checklist_score": pd.array([10, 1], dtype="Int64"),
        }
    )
    return {
        "households": households,
        "crisis_events": crisis,
        "sensor_enrollments": enrollments,
        "sensor_readings": readings,
        "ai_calls": calls,
        "call_center_contacts": contacts,
        "outreach_visits": visits,
    }


def write_delivery(directory: Path, frames: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write frames as a Parquet delivery (the contract's physical types)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in (frames or valid_frames()).items():
        write_source(frame, SOURCES_BY_NAME[name], directory)
    return directory


def as_csv(directory: Path, name: str, text: str) -> None:
    """Replace one file of a delivery by CSV text (the contract accepts CSV in place of Parquet)."""
    (directory / f"{name}.parquet").unlink(missing_ok=True)
    (directory / f"{name}.csv").write_text(text, encoding="utf-8")
