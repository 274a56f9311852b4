"""`anbu keys`: a scope names only districts, dongs and routes that exist, and every command it
suggests runs as printed."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from anbu.cli import app
from features.contract.delivery import validate_delivery
from features.reference import district_names
from serving.keys.key_file import KeyFile
from tests.support.deliveries import write_delivery

runner = CliRunner()
HINT = re.compile(r"`(anbu [^`]+)`")
"""A command an error suggests, as printed between backticks."""
GANGNAM_DONG, JUNGNANG_DONG = "1168064000", "1126052000"
"""The small delivery's dongs (tests/support/deliveries.py): one in 강남구, one in 중랑구."""


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small validated delivery: its households name the dongs a key may be scoped to."""
    data = write_delivery(tmp_path_factory.mktemp("keys") / "delivery")
    validate_delivery(data)
    return data


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own keys file (the hints it prints run against it too, through ANBU_KEYS)."""
    path = tmp_path / "api_keys.toml"
    monkeypatch.setenv("ANBU_KEYS", str(path))
    return path


def keys(data: Path, *arguments: str):
    return runner.invoke(app, ["keys", arguments[0], "--data", str(data), *arguments[1:]])


def refused(result, *expected: str) -> str:
    """The one-line error of a refused command, checked to name each expected text."""
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    for text in expected:
        assert text in message, (text, message)
    return message


def test_a_district_that_does_not_exist_is_refused_naming_the_districts(delivered, keys_file) -> None:
    message = refused(
        keys(delivered, "add", "--name", "team", "--role", "planner", "--gu", "관악"),
        "--gu '관악' is not a Seoul district (did you mean 관악구?)",
    )
    assert all(gu in message for gu in district_names())
    assert not keys_file.exists()


def test_a_dong_the_city_does_not_have_is_refused_listing_the_districts_dongs(delivered, keys_file) -> None:
    refused(
        keys(delivered, "add", "--name", "team", "--role", "planner", "--gu", "강남구", "--dong", "99999"),
        "--dong 99999 is not a dong of the city's households",
        f"the dongs of 강남구 are 역삼1동 {GANGNAM_DONG}",
    )
    assert not keys_file.exists()


def test_a_dong_outside_the_keys_districts_is_refused_saying_where_it_lies(delivered, keys_file) -> None:
    refused(
        keys(
            delivered, "add", "--name", "team", "--role", "planner", "--gu", "강남구", "--dong", JUNGNANG_DONG
        ),
        f"--dong {JUNGNANG_DONG} is in 중랑구, outside this key's districts",
        f"the dongs of 강남구 are 역삼1동 {GANGNAM_DONG}",
    )
    added = keys(
        delivered, "add", "--name", "team", "--role", "planner", "--gu", "강남구", "--dong", GANGNAM_DONG
    )
    assert added.exit_code == 0, added.output
    assert KeyFile.read(keys_file).caller("team").dongs == (GANGNAM_DONG,)


def test_a_dong_may_be_named_as_a_planner_knows_it(delivered, keys_file) -> None:
    added = keys(
        delivered, "add", "--name", "team", "--role", "planner", "--gu", "강남구", "--dong", "역삼1동"
    )
    assert added.exit_code == 0, added.output
    assert KeyFile.read(keys_file).caller("team").dongs == (GANGNAM_DONG,)


def test_a_route_the_role_may_not_call_is_refused_naming_its_routes(delivered, keys_file) -> None:
    planner = ["--role", "planner", "--gu", "강남구"]
    for route in ("/scor", "/score", "/planner/", "/planner/export.{kind}"):
        refused(
            keys(delivered, "add", "--name", "team", *planner, "--route", route),
            f"--route {route} is not a route a planner key may call",
            "/rank",
            "/outcomes",
            "/planner/export.{kind}",
        )
    added = keys(
        delivered, "add", "--name", "team", *planner, "--route", "/rank", "--route", "/planner/export.csv"
    )
    assert added.exit_code == 0, added.output
    assert KeyFile.read(keys_file).caller("team").routes == ("/rank", "/planner/export.csv")


def test_a_key_that_reads_no_list_takes_no_district_dong_or_capacity(delivered, keys_file) -> None:
    for scope in (["--gu", "강남구"], ["--dong", GANGNAM_DONG], ["--max-capacity", "20"]):
        refused(
            keys(delivered, "add", "--name", "call-centre", "--role", "service", *scope),
            "a service key reads no district's list",
        )
    assert not keys_file.exists()


def test_scope_checks_what_add_checks_and_leaves_the_key_as_it_was(delivered, keys_file) -> None:
    assert keys(delivered, "add", "--name", "team", "--role", "planner", "--gu", "강남구").exit_code == 0
    before = keys_file.read_text(encoding="utf-8")
    refused(
        keys(delivered, "scope", "--name", "team", "--gu", "Gangnam"),
        "--gu 'Gangnam' is not a Seoul district",
    )
    refused(
        keys(delivered, "scope", "--name", "team", "--gu", "*", "--gu", "강남구"),
        "--gu '*' is the whole city",
    )
    refused(
        keys(delivered, "scope", "--name", "nobody", "--gu", "강남구"), "no caller named 'nobody'", "team"
    )
    assert keys_file.read_text(encoding="utf-8") == before


def _hint(result) -> list[str]:
    """The command a refusal suggests, run as printed; returns its words."""
    message = refused(result)
    hints = HINT.findall(message)
    assert len(hints) == 1, message
    words = shlex.split(hints[0])
    assert words[0] == "anbu", hints[0]
    return words[1:]


def test_every_hint_keys_prints_runs_as_printed(delivered, keys_file, tmp_path) -> None:
    # A planner key added without districts: the hint is the same command with the dong's district.
    words = _hint(keys(delivered, "add", "--name", "team", "--role", "planner", "--dong", JUNGNANG_DONG))
    assert runner.invoke(app, words).exit_code == 0
    assert KeyFile.read(keys_file).caller("team").districts == ("중랑구",)
    # Its scope replaced by one without districts: the hint keeps the rest of the new scope.
    words = _hint(keys(delivered, "scope", "--name", "team", "--route", "/rank", "--max-capacity", "5"))
    assert runner.invoke(app, words).exit_code == 0
    assert KeyFile.read(keys_file).caller("team").routes == ("/rank",)
    # A keys file edited by hand: `keys list` says how to give the planner its districts.
    edited = tomllib.loads(keys_file.read_text(encoding="utf-8"))
    del edited["callers"]["team"]["districts"]
    keys_file.write_text(tomli_w.dumps(edited), encoding="utf-8")
    words = _hint(keys(delivered, "list"))
    assert runner.invoke(app, words).exit_code == 0
    assert keys(delivered, "list").exit_code == 0
    # Dongs are checked against validated households: a delivery not validated yet says how.
    fresh = write_delivery(tmp_path / "fresh")
    words = _hint(
        keys(fresh, "add", "--name", "fresh", "--role", "planner", "--gu", "강남구", "--dong", GANGNAM_DONG)
    )
    assert runner.invoke(app, words).exit_code == 0
    assert (
        keys(
            fresh, "add", "--name", "fresh", "--role", "planner", "--gu", "강남구", "--dong", GANGNAM_DONG
        ).exit_code
        == 0
    )
