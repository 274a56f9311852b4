from __future__ import annotations

import datetime as dt

import pytest

from anbu.loop.calendar import loop_rounds, retraining_rounds

FIRST_DAY = dt.date(2023, 11, 1)


def _sweeps_in_april_and_october(round_date: dt.date) -> int:
    """750 survey-visited households in a window holding April or October, none otherwise."""
    return 750 if round_date.month in (1, 3, 7, 9) else 0


def test_the_loops_rounds_are_two_months_apart_at_the_end_of_odd_months() -> None:
    rounds = loop_rounds(dt.date(2025, 1, 31), 4)
    assert rounds == [dt.date(2025, 1, 31), dt.date(2025, 3, 31), dt.date(2025, 5, 31), dt.date(2025, 7, 31)]
    with pytest.raises(ValueError, match="2025-02-28 is not a round date"):
        loop_rounds(dt.date(2025, 2, 28), 4)


def test_a_retraining_learns_only_from_closed_windows_and_is_judged_on_the_latest_sweep() -> None:
    chosen = retraining_rounds(dt.date(2026, 5, 31), FIRST_DAY, _sweeps_in_april_and_october, 30)
    assert chosen is not None
    assert chosen.test == dt.date(2026, 1, 31)  # 2026-03-31's window (to 06-29) is still open
    assert chosen.validation == dt.date(2025, 9, 30)  # the latest sweep round closed by the test
    assert chosen.train[0] == dt.date(2024, 3, 31)  # the first with 120 days of history
    assert chosen.train[-1] == dt.date(2025, 5, 31)  # closed by the validation round
    assert all(later > earlier for earlier, later in zip(chosen.train, chosen.train[1:], strict=False))


def test_no_retraining_until_the_history_holds_two_judged_rounds() -> None:
    assert retraining_rounds(dt.date(2024, 9, 30), FIRST_DAY, _sweeps_in_april_and_october, 30) is None
    assert retraining_rounds(dt.date(2026, 5, 31), FIRST_DAY, lambda day: 10, 30) is None  # sweeps too small


def test_a_retraining_can_keep_only_its_latest_training_rounds() -> None:
    chosen = retraining_rounds(
        dt.date(2026, 5, 31), FIRST_DAY, _sweeps_in_april_and_october, 30, train_rounds=3
    )
    assert chosen is not None and chosen.train == (
        dt.date(2025, 1, 31),
        dt.date(2025, 3, 31),
        dt.date(2025, 5, 31),
    )
