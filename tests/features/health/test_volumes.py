"""Each source's rows per month against its own history: what is gone, halved, doubled or new."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from features.contract.schemas import SOURCES_BY_NAME
from features.health.findings import Grade, in_order
from features.health.volumes import level_findings, volume_findings

AS_OF = pd.Timestamp("2026-07-31")
MONTHS = pd.date_range("2025-04-01", "2026-07-01", freq="MS")  # 14 history months + June, July


def _rows(
    counts: dict[str, list[int]], source: str = "crisis_events", split: str = "indicator"
) -> pd.DataFrame:
    """`counts[part]`: rows in each of MONTHS, each dated on the 10th of its month."""
    known_on = SOURCES_BY_NAME[source].known_on
    frames = [
        pd.DataFrame({split: part, known_on: month + pd.Timedelta(days=9)}, index=range(n))
        for part, monthly in counts.items()
        for month, n in zip(MONTHS, monthly, strict=True)
        if n
    ]
    if not frames:
        return pd.DataFrame(
            {split: pd.Series([], dtype="string"), known_on: pd.Series([], dtype="datetime64[us]")}
        )
    return pd.concat(frames, ignore_index=True)


def _delivery(**tables: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A connection with one view per source, as features/delivery_views.connect gives; a source not
    named is delivered empty."""
    con = duckdb.connect()
    empty = {
        "crisis_events": _rows({}),
        "sensor_readings": _rows({}, "sensor_readings", "channel").assign(value=0.0),
        "sensor_enrollments": _rows({}, "sensor_enrollments", "service"),
        "ai_calls": pd.DataFrame({"called_at": pd.Series([], dtype="datetime64[us]")}),
        "call_center_contacts": _rows({}, "call_center_contacts", "topic"),
        "outreach_visits": _rows({}, "outreach_visits", "trigger"),
    }
    for name, table in {**empty, **tables}.items():
        con.register(name, table)
    return con


STEADY = [100, 96, 104, 99, 101, 95, 103, 100, 98, 102, 97, 105, 99, 101, 100, 98]


def test_a_code_that_stopped_arriving_two_months_ago_is_an_error_naming_it_and_the_months() -> None:
    gone = STEADY[:-2] + [0, 0]
    con = _delivery(crisis_events=_rows({"GAS_ARREARS": gone, "ELEC_ARREARS": STEADY}))
    (finding,) = volume_findings(con, AS_OF)
    assert finding.grade is Grade.ERROR and finding.subject == "crisis_events indicator=GAS_ARREARS"
    assert "no rows in 2026-06–2026-07" in finding.sentence and "against 100 a month" in finding.sentence


def test_a_source_gone_whole_is_one_finding_not_one_per_code() -> None:
    gone = STEADY[:-1] + [0]
    con = _delivery(crisis_events=_rows({"GAS_ARREARS": gone, "ELEC_ARREARS": gone, "WATER_ARREARS": gone}))
    (finding,) = volume_findings(con, AS_OF)
    assert finding.grade is Grade.ERROR and finding.subject == "crisis_events"
    assert "no rows in 2026-07" in finding.sentence


def test_a_sweep_is_judged_against_its_own_month_a_year_before() -> None:
    sweeps = [600, 0, 0, 0, 0, 0, 700, 0, 0, 0, 0, 0, 650, 0, 0, 0]  # April and October
    quiet = _delivery(
        outreach_visits=_rows({"survey": sweeps, "system_list": STEADY}, "outreach_visits", "trigger")
    )
    assert volume_findings(quiet, AS_OF) == []  # months without a sweep are its usual
    april = pd.Timestamp("2026-04-30")
    missed = sweeps[:-4] + [0, 0, 0, 0]  # no sweep in April 2026
    con = _delivery(
        outreach_visits=_rows({"survey": missed, "system_list": STEADY}, "outreach_visits", "trigger")
    )
    (finding,) = volume_findings(con, april)
    assert finding.grade is Grade.ERROR and finding.subject == "outreach_visits trigger=survey"
    assert "no rows in 2026-04, against 600 in 2025-04" in finding.sentence


def test_steady_growth_is_not_a_doubling_but_a_true_doubling_of_a_large_stream_warns() -> None:
    growing = [int(60 * 1.04**month) for month in range(16)]  # +4 % a month: x1.8 over the history
    assert volume_findings(_delivery(crisis_events=_rows({"ELEC_ARREARS": growing})), AS_OF) == []
    doubled = STEADY[:-2] + [210, 205]
    (finding,) = volume_findings(_delivery(crisis_events=_rows({"ELEC_ARREARS": doubled})), AS_OF)
    assert finding.grade is Grade.WARNING and "rose to 2.07×" in finding.sentence
    halved = STEADY[:-2] + [45, 40]
    (finding,) = volume_findings(_delivery(crisis_events=_rows({"ELEC_ARREARS": halved})), AS_OF)
    assert finding.grade is Grade.WARNING and "fell to 0.42×" in finding.sentence


def test_a_few_rows_a_month_may_halve_or_double_without_a_warning() -> None:
    small = [4, 6, 5, 3, 5, 6, 4, 5, 5, 4, 6, 5, 4, 5, 11, 12]
    assert volume_findings(_delivery(crisis_events=_rows({"HEAD_DEATH": small})), AS_OF) == []


def test_a_new_code_warns_and_a_source_that_began_this_spring_is_not_gone_before_it_existed() -> None:
    new = [0] * 14 + [30, 40]
    young = [0] * 10 + [20, 22, 19, 21, 20, 23]  # began 2026-02: four months of its own history
    con = _delivery(
        crisis_events=_rows({"ELEC_ARREARS": STEADY, "ENERGY_VOUCHER_UNUSED": new}),
        ai_calls=_rows({"x": young}, "ai_calls", "x"),
    )
    (finding,) = volume_findings(con, AS_OF)
    assert finding.grade is Grade.WARNING and finding.check == "new_code"
    assert finding.subject == "crisis_events indicator=ENERGY_VOUCHER_UNUSED"


def test_a_yearly_code_is_not_new_in_a_source_younger_than_a_year() -> None:
    """A delivery that began last autumn meets its first spring sweep: not a code new to the city."""
    lists = [0] * 6 + [100, 96, 104, 99, 101, 95, 103, 100, 98, 102]  # from 2025-10: ten months
    sweep = [0] * 14 + [40, 45]
    con = _delivery(
        outreach_visits=_rows({"system_list": lists, "survey": sweep}, "outreach_visits", "trigger")
    )
    assert volume_findings(con, AS_OF) == []


@pytest.mark.parametrize("factor", [1000.0, 0.001])
def test_a_channel_whose_level_jumps_by_a_power_of_ten_is_a_unit_change(factor: float) -> None:
    readings = _rows({"power_w": [200] * 16, "light_lux": [200] * 16}, "sensor_readings", "channel")
    rng = np.random.default_rng(3)
    readings["value"] = np.where(readings["channel"] == "power_w", rng.gamma(2.0, 20.0, len(readings)), 150.0)
    last = (readings["channel"] == "power_w") & (readings["ts"] >= pd.Timestamp("2026-07-01"))
    readings.loc[last, "value"] *= factor
    findings = in_order(level_findings(_delivery(sensor_readings=readings), AS_OF))
    assert [f.subject for f in findings] == ["sensor_readings channel=power_w"]
    assert findings[0].grade is Grade.ERROR and f"×{factor:g}" in findings[0].sentence
