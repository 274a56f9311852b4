from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from anbu.loop.city import UnknownHousehold
from features.contract.delivery import validate_delivery
from synthetic.loop_city import SyntheticCity, VisitEffect
from synthetic.truth import round_truth

LOOP_STARTS = dt.date(2026, 1, 31)
NO_SAMPLES = pd.DataFrame(columns=["household_id", "sweep", "drawn_on"])


def _requests(ids: np.ndarray, day: str, trigger: str = "system_list") -> pd.DataFrame:
    return pd.DataFrame({"household_id": ids, "visited_on": pd.Timestamp(day), "trigger": trigger})


def _known_by(city: SyntheticCity, day: str) -> np.ndarray:
    """The households the city's registry had delivered by the day (some have left since)."""
    month = city.month_index(pd.Timestamp(day))
    return city.household_ids[(city.state[:, : month + 1] >= 0).any(axis=1)]


@pytest.fixture(scope="module")
def loop_city(city: Path) -> SyntheticCity:
    return SyntheticCity(city, LOOP_STARTS)


def test_the_same_visit_finds_the_same_thing_whichever_policy_asked_for_it(city: Path, loop_city) -> None:
    ids = _known_by(loop_city, "2026-02-10")[:3000]
    alone = loop_city.answer(_requests(ids[:1], "2026-02-10"))
    together = SyntheticCity(city, LOOP_STARTS).answer(_requests(ids, "2026-02-10"))
    assert together.iloc[0].to_dict() == alone.iloc[0].to_dict()
    other_day = loop_city.answer(_requests(ids, "2026-02-11"))
    assert (other_day["outcome"] != together["outcome"]).any()  # a different visit, another draw


def test_what_a_visit_finds_follows_the_true_state_with_the_citys_visit_noise(loop_city) -> None:
    ids = _known_by(loop_city, "2026-02-10")
    day = np.full(len(ids), np.datetime64("2026-02-10"))
    state = loop_city.judge.states(ids, day)
    answered = loop_city.answer(_requests(ids, "2026-02-10", trigger="survey"))
    positive = answered["outcome"].isin(["isolated", "at_risk"]).to_numpy()
    expected = loop_city.variant.p_visit_positive()
    for level in (0, 1, 2):
        here = state == level
        assert abs(positive[here].mean() - expected[level]) < 4 * np.sqrt(expected[level] / here.sum()) + 0.01
    assert (answered["outcome"][state == -1] == "moved").all()  # gone by the visit: nobody there
    scored = answered["checklist_score"].notna().to_numpy()
    assert (scored == answered["outcome"].isin(["isolated", "at_risk", "not_isolated"]).to_numpy()).all()


def test_a_visit_to_a_household_the_city_never_delivered_is_refused_naming_it(loop_city) -> None:
    with pytest.raises(UnknownHousehold, match="'H99999999' is not a household of the city"):
        loop_city.answer(_requests(np.array(["H99999999"]), "2026-02-10"))
    newcomer = loop_city.household_ids[loop_city.state[:, 0] == -1][0]
    with pytest.raises(UnknownHousehold, match=f"'{newcomer}' is not in the city's registry until"):
        loop_city.answer(_requests(np.array([newcomer]), "2024-11-10"))
    with pytest.raises(ValueError, match="outside the city's history"):
        loop_city.answer(_requests(loop_city.household_ids[:1], "2027-01-10"))
    with pytest.raises(ValueError, match="visit trigger 'phone' is not one of"):
        loop_city.answer(_requests(loop_city.household_ids[:1], "2026-02-10", trigger="phone"))


def test_the_judge_reads_the_same_truth_as_the_evaluation(city: Path, loop_city) -> None:
    as_of = pd.Timestamp("2026-03-31")
    judged = loop_city.judge.round_truth(as_of.date()).sort_index()
    read = round_truth(city, as_of).sort_index()
    pd.testing.assert_frame_equal(judged, read, check_dtype=False)


def test_a_delivery_holds_what_was_known_on_its_day_with_the_loops_visits_for_the_citys_list(
    city: Path, loop_city, tmp_path: Path
) -> None:
    day = dt.date(2026, 3, 31)
    registered = loop_city.judge.states(
        loop_city.household_ids, np.full(len(loop_city.household_ids), np.datetime64("2026-02-15"))
    )
    ids = loop_city.household_ids[registered >= 0][:200]
    answered = pd.concat(
        [loop_city.answer(_requests(ids, "2026-02-15")), loop_city.answer(_requests(ids[:50], "2026-04-15"))]
    )
    loop_city.deliver(day, tmp_path, answered, NO_SAMPLES)
    visits = pq.read_table(tmp_path / "outreach_visits.parquet").to_pandas(date_as_object=False)
    assert visits["visited_on"].max() <= pd.Timestamp(day)
    listed = visits[visits["trigger"] == "system_list"]
    after_start = listed[listed["visited_on"] >= pd.Timestamp(LOOP_STARTS)]
    # from the loop's first round the only list visits are the loop's own (none after the day)
    assert set(after_start["household_id"]) == set(ids) and len(after_start) == len(ids)
    own = pq.read_table(city / "outreach_visits.parquet").to_pandas(date_as_object=False)
    before = own[(own["visited_on"] < pd.Timestamp(LOOP_STARTS))]
    assert (
        len(listed[listed["visited_on"] < pd.Timestamp(LOOP_STARTS)])
        == (before["trigger"] == "system_list").sum()
    )
    events = pq.read_table(tmp_path / "crisis_events.parquet").to_pandas(date_as_object=False)
    assert events["reported_on"].max() <= pd.Timestamp(day)
    registry = pq.read_table(tmp_path / "households.parquet").to_pandas(date_as_object=False)
    assert registry["valid_from"].max() <= pd.Timestamp(day)
    assert not (registry["valid_to"] > pd.Timestamp(day)).any()
    assert not (tmp_path / "_truth").exists()
    report = validate_delivery(tmp_path)
    visited = report.source("outreach_visits")
    assert visited.rows_read == len(visits) and visited.rows_quarantined == 0 and visited.duplicates == 0


def test_with_a_stated_effect_a_household_found_in_need_leaves_its_spell(city: Path) -> None:
    supported = SyntheticCity(city, LOOP_STARTS, VisitEffect(ends_spell=1.0))
    ids = _known_by(supported, "2026-02-10")
    feb = np.full(len(ids), np.datetime64("2026-02-10"))
    march = np.full(len(ids), np.datetime64("2026-03-10"))
    before = supported.judge.states(ids, march).copy()
    in_need = supported.judge.states(ids, feb) >= 1
    answered = supported.answer(_requests(ids[in_need], "2026-02-10", trigger="survey"))
    found = ids[in_need][answered["outcome"].isin(["isolated", "at_risk"]).to_numpy()]
    after = supported.judge.states(ids, march)
    was_found = np.isin(ids, found)
    assert found.size > 0 and (after[was_found] <= 0).all()
    assert (after[~was_found] == before[~was_found]).all()
    assert (SyntheticCity(city, LOOP_STARTS).judge.states(ids, march) == before).all()  # default: none
    with pytest.raises(ValueError, match=r"a chance in \[0, 1\], got 1.5"):
        VisitEffect(ends_spell=1.5)
