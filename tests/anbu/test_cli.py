"""The command line as a data scientist meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from anbu.cli import COMMANDS, app, load_command
from tests.support.deliveries import valid_frames, write_delivery

runner = CliRunner()


def test_every_command_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    expected = ["generate", "validate", "features", "training-set", "catalogue"]
    commands = [name for name in expected if name in result.output]
    assert commands == expected
    for command in commands:
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "--" in sub.output


def test_a_command_prints_no_warning_from_an_engine_it_does_not_use() -> None:
    # In a process of its own: the test run's warning filters must not hide what a user would see.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    for command in (["--help"], ["validate", "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "anbu.cli", *command],
            capture_output=True,
            text=True,
            env=environment,
            cwd=Path(__file__).resolve().parents[2],
            check=False,
        )
        assert done.returncode == 0
        assert "Warning" not in done.stderr, done.stderr


def test_help_lists_every_stage_without_importing_one() -> None:
    # In a process of its own: this test run has imported the stages already.
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from anbu.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = {'pandas', 'numpy', 'mlflow', 'pyspark', 'pandera', 'duckdb', 'lightgbm', 'bentoml'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "print(result.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded, _, listing = done.stdout.partition("\n")
    assert loaded == "[]"
    for name in COMMANDS:
        assert f" {name} " in listing


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_summary_is_the_start_of_the_commands_own_help(name: str) -> None:
    command = load_command(name)
    assert " ".join((command.help or "").split()).startswith(COMMANDS[name].summary.rstrip(".")), name


def test_validate_prints_the_summary_per_file(tmp_path: Path) -> None:
    frames = valid_frames()
    readings = frames["sensor_readings"]
    frames["sensor_readings"] = pd.concat([readings, readings.iloc[[0]]], ignore_index=True)
    delivery = write_delivery(tmp_path / "delivery", frames)
    result = runner.invoke(app, ["validate", "--data", str(delivery)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "sensor_readings.parquet" in result.output
    assert "duplicate of row N" in result.output
    assert (delivery / "_validated" / "quarantine" / "sensor_readings.parquet").is_file()


@pytest.mark.parametrize("missing", ["households", "outreach_visits"])
def test_validate_names_a_missing_file_without_a_trace(tmp_path: Path, missing: str) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    (delivery / f"{missing}.parquet").unlink()
    result = runner.invoke(app, ["validate", "--data", str(delivery)], terminal_width=200)
    assert result.exit_code == 2
    assert f"{missing}.parquet" in result.output
    assert "Traceback" not in result.output


def test_features_writes_the_round_table_and_its_manifest(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    out = tmp_path / "round.parquet"
    result = runner.invoke(
        app,
        ["features", "--data", str(delivery), "--as-of", "2025-03-31", "--out", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["household_id"].tolist() == ["H1", "H2", "H3"]
    assert out.with_suffix(".manifest.json").is_file()
    assert "3 households" in result.output


def test_training_set_takes_several_rounds(tmp_path: Path) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    out = tmp_path / "train.parquet"
    result = runner.invoke(
        app,
        [
            "training-set",
            "--data",
            str(delivery),
            "--round",
            "2025-01-31",
            "--round",
            "2025-03-31",
            "--out",
            str(out),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 6


@pytest.mark.parametrize(
    "command",
    [
        ["features", "--as-of", "31/03/2025", "--out", "x.parquet"],
        ["training-set", "--round", "2025-02-28", "--round", "31/03/2025", "--out", "x.parquet"],
        ["score", "--as-of", "31/03/2025"],
        ["rank", "--gu", "관악구", "--capacity", "10", "--as-of", "31/03/2025"],
        ["serve", "--as-of", "31/03/2025"],
    ],
    ids=lambda command: command[0],
)
def test_a_round_date_that_is_not_a_date_is_refused_by_name(command: list[str], tmp_path: Path) -> None:
    """Every command reads its dates one way: pandas alone would take 31/03/2025 as a date."""
    result = runner.invoke(app, [*command, "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 2
    option = "--round" if command[0] == "training-set" else "--as-of"
    assert f"{option} '31/03/2025' is not a date in the form YYYY-MM-DD" in result.output


def test_generate_writes_a_city_and_prints_its_report(tmp_path: Path) -> None:
    out = tmp_path / "city"
    result = runner.invoke(
        app,
        ["generate", "--households", "800", "--months", "6", "--seed", "2", "--out", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert (out / "households.parquet").is_file() and (out / "_truth" / "monthly_state.parquet").is_file()
    assert "Synthetic city beside published figures" in result.output and "one-person share" in result.output


def test_generate_refuses_an_unknown_scale_by_name(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--scale", "busan", "--out", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 2
    assert "'busan' is not one of tiny, small, seoul" in result.output
