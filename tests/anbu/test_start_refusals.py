"""`anbu serve` refuses a set-up it cannot serve in one sentence, before it prints anything as
available and before BentoML starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ANBU = str(Path(sys.executable).with_name("anbu"))


def _serve(*arguments: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([ANBU, "serve", *arguments], capture_output=True, text=True, timeout=60)
    return result, time.monotonic() - started


def test_a_port_in_use_is_refused_in_one_line_within_five_seconds(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, seconds = _serve("--data", str(tmp_path), "--port", str(port))
    said = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and seconds < 5, (result.returncode, seconds, said)
    assert len(said.splitlines()) == 1 and "Traceback" not in said, said
    assert f"--port {port}" in said and "already listens" in said
    assert "Planner page" not in said  # nothing was announced as available


def test_a_missing_data_folder_is_named_by_the_option_the_user_gave(tmp_path: Path) -> None:
    result, _ = _serve("--data", str(tmp_path / "dmeo"), "--port", "1")
    said = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and len(said.splitlines()) == 1, said
    assert said.startswith("Error: --data ") and "dmeo" in said and "ANBU_DATA" not in said


def test_rank_on_a_misspelt_data_folder_says_so_instead_of_asking_to_score(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            ANBU,
            "rank",
            "--data",
            str(tmp_path / "dmeo"),
            "--as-of",
            "2026-07-31",
            "--gu",
            "관악구",
            "--capacity",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and len(said.splitlines()) == 1, said
    assert "--data" in said and "not a folder" in said and "anbu score" not in said


def test_rank_shows_an_earlier_round_by_its_newest_file_and_asks_no_registry(
    tmp_path: Path, monkeypatch
) -> None:
    import pandas as pd

    from anbu.commands.serving import _served_preference
    from serving.scoring.rounds import scores_path, shown_version

    for day, versions in (("2026-06-30", ("1", "2")), ("2026-07-31", ("2",))):
        for version in versions:
            path = scores_path(tmp_path, pd.Timestamp(day), version)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    # No registry anywhere: asking it would fail, so these answers come from the files alone.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'absent' / 'mlflow.db'}")
    assert _served_preference(tmp_path, pd.Timestamp("2026-07-31")) is None  # one file: no question
    assert shown_version(tmp_path, pd.Timestamp("2026-06-30")).model_version == "2"  # the newest
