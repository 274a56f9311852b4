"""Every door builds the same list: the API's `rank` and `anbu rank` for the same request and
settings give the same households in the same order (serving/lists/builder.py)."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from tests.support.served import DISTRICT, ROUND, running_server

runner = CliRunner()
REQUEST = {"gu": DISTRICT, "capacity": 40, "recheck_capacity": 10}


@pytest.fixture(scope="module")
def short_window(served, tmp_path_factory):
    """A service whose findings keep a household known for 90 days instead of a year."""
    with running_server(served, tmp_path_factory.mktemp("window-90"), ANBU_KNOWN_WINDOW_DAYS="90") as running:
        yield running


def _command_list(server, monkeypatch, window: str, tmp_path) -> list[tuple[str, str]]:
    out = tmp_path / f"list-{window}.csv"
    monkeypatch.setenv("ANBU_KNOWN_WINDOW_DAYS", window)
    monkeypatch.setenv("ANBU_RECORDS_URL", str(server.records))
    result = runner.invoke(
        app,
        ["rank", "--data", str(server.served.data), "--as-of", str(ROUND.date()), "--gu", DISTRICT]
        + ["--capacity", "40", "--recheck", "10", "--format", "csv", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    listed = pd.read_csv(io.BytesIO(out.read_bytes()), encoding="utf-8-sig", dtype=str)
    return list(zip(listed.iloc[:, 0], listed["가구번호"], strict=True))


def test_the_command_and_the_service_list_the_same_households_under_a_90_day_window(
    short_window, monkeypatch, tmp_path
) -> None:
    answer = short_window.post("/rank", {"request": REQUEST}, role="planner")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["known_window_days"] == 90
    served = [(row["on_list"], row["household_id"]) for row in body["households"]]
    command = _command_list(short_window, monkeypatch, "90", tmp_path)
    assert [household for _, household in command] == [household for _, household in served]
    # The window decides who is on which list here, so agreeing is not an accident of the city.
    a_year = _command_list(short_window, monkeypatch, "365", tmp_path)
    assert [household for _, household in a_year] != [household for _, household in command]


def test_an_earlier_round_is_listed_without_reading_the_served_one(served, monkeypatch, tmp_path) -> None:
    # The city pins a round nobody scored yet: lists of a scored earlier round still come, and
    # asking for the pinned round names it as the served round.
    monkeypatch.setenv("ANBU_AS_OF", "2026-08-31")
    monkeypatch.setenv("ANBU_RECORDS_URL", str(tmp_path / "records.sqlite"))
    earlier = runner.invoke(
        app,
        [
            "rank",
            "--data",
            str(served.data),
            "--as-of",
            str(ROUND.date()),
            "--gu",
            DISTRICT,
            "--capacity",
            "5",
        ],
    )
    assert earlier.exit_code == 0, earlier.output
    assert f"{DISTRICT} · {ROUND.date()} · 5가구" in earlier.output
    pinned = runner.invoke(
        app,
        ["rank", "--data", str(served.data), "--as-of", "2026-08-31", "--gu", DISTRICT, "--capacity", "5"],
    )
    assert pinned.exit_code == 2 and "the round 2026-08-31 is not scored yet" in pinned.output
