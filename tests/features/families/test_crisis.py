"""Crisis features: what the family counts, and over which reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.round_table import build_round
from tests.support.deliveries import D, valid_frames, write_delivery


def _report(household: str, indicator: str, reported_on: str) -> dict:
    reported = D(reported_on)
    return {
        "household_id": household,
        "indicator": indicator,
        "reference_month": (reported - pd.DateOffset(months=1)).replace(day=1),
        "reported_on": reported,
        "amount_krw": float("nan"),
        "months_overdue": pd.NA,
    }


def test_areas_of_life_count_categories_reported_in_the_year_not_indicators(tmp_path: Path) -> None:
    frames = valid_frames()  # H1: electricity and gas arrears (both utilities); H3: health insurance
    more = pd.DataFrame(
        [
            _report("H1", "MGMT_FEE_ARREARS", "2025-04-01"),  # housing: a second area
            _report("H1", "FIN_DELINQUENCY", "2024-05-01"),  # finance, but 13 months before the round
            _report("H1", "BRAND_NEW_CODE", "2025-05-10"),  # a code the catalogue does not know: `other`
            _report("H1", "PENSION_ARREARS", "2025-06-10"),  # reported after the round
        ]
    ).astype({"months_overdue": "Int64"})
    frames["crisis_events"] = pd.concat([frames["crisis_events"], more], ignore_index=True)
    table, _ = build_round(write_delivery(tmp_path / "delivery", frames), D("2025-05-31"))
    row = table.set_index("household_id")
    assert row.loc["H1", "crisis_categories_12m"] == 3.0  # utility, housing, other
    assert row.loc["H1", "crisis_distinct_12m"] == 4.0  # ELEC, GAS, MGMT_FEE, BRAND_NEW
    assert row.loc["H3", "crisis_categories_12m"] == 1.0
    assert row.loc["H2", "crisis_categories_12m"] == 0.0  # no report: none, not missing
