"""The keys file is read through one model: a file edited by hand is refused naming the caller and
the field, and what anbu writes reads back as it was written."""

from __future__ import annotations

import pytest

from serving.keys.callers import Caller
from serving.keys.key_file import KeyFile, NoDistricts, add_key, load_keys, set_scope

HASH = "a" * 64


def _file(tmp_path, body: str):
    path = tmp_path / "api_keys.toml"
    path.write_text(f'[callers.team]\nkey_sha256 = "{HASH}"\n{body}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('role = "planer"\ndistricts = ["관악구"]\n', "caller 'team' has role 'planer'; roles are planner"),
        (
            'role = "planner"\ndistricts = ["관악구"]\nmax_capacity = 0\n',
            "has max_capacity 0; give a whole number ≥ 1",
        ),
        ('role = "planner"\ndistricts = ["관악구"]\nmax_capacity = "20"\n', "has max_capacity '20'"),
        (
            'role = "planner"\ndistrict = ["관악구"]\n',
            "caller 'team' has 'district', which a key does not take",
        ),
        ('role = "service"\nroutes = "/score"\n', "caller 'team': routes '/score'"),
    ],
)
def test_a_hand_edited_entry_is_refused_naming_the_caller_and_the_field(tmp_path, body, says) -> None:
    with pytest.raises(ValueError, match=r"api_keys\.toml: ") as refused:
        KeyFile.read(_file(tmp_path, body))
    assert says in str(refused.value)


def test_a_stored_hash_must_be_a_sha256(tmp_path) -> None:
    path = tmp_path / "api_keys.toml"
    path.write_text('[callers.team]\nrole = "admin"\nkey_sha256 = "the-key-itself"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="caller 'team': key_sha256 'the-key-itself'"):
        KeyFile.read(path)


def test_a_planner_without_districts_is_named_when_its_caller_is_read(tmp_path) -> None:
    keys = KeyFile.read(_file(tmp_path, 'role = "planner"\ndongs = [1162069500]\n'))
    assert keys.callers["team"].dongs == ("1162069500",)  # a code typed as a number is the code
    with pytest.raises(NoDistricts, match="planner 'team' names no districts"):
        keys.caller("team")


def test_what_anbu_writes_reads_back_and_holds_only_the_hash(tmp_path) -> None:
    path = tmp_path / "api_keys.toml"
    key = add_key(path, "gwanak-team", "planner", districts=["관악구"], max_capacity=30)
    assert key not in path.read_text(encoding="utf-8")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_keys(path) == {
        KeyFile.read(path).callers["gwanak-team"].key_sha256: Caller(
            "gwanak-team", "planner", ("관악구",), (), 30, ()
        )
    }
    scoped = set_scope(path, "gwanak-team", districts=["관악구", "동작구"], routes=["/rank"])
    assert (scoped.districts, scoped.max_capacity, scoped.routes) == (("관악구", "동작구"), None, ("/rank",))
    assert "max_capacity" not in path.read_text(encoding="utf-8")  # a scope replaced is replaced whole
