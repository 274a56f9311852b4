"""The environment is read in one place, and the data folder's names are spelt in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from anbu.data_folder import DataFolder
from anbu.settings import Settings, refusal

ROOT = Path(__file__).parents[2]
PACKAGES = ("anbu", "features", "training", "serving", "synthetic", "bench")


def _sources() -> list[Path]:
    return [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]


def test_the_readme_lists_every_setting_and_only_those() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(ANBU_[A-Z_]+)`", readme, flags=re.M))
    listed |= set(re.findall(r"^\| `ANBU_[A-Z_]+` \(or `(ANBU_[A-Z_]+)`\)", readme, flags=re.M))
    assert listed == {f"ANBU_{name.upper()}" for name in Settings.model_fields}


def test_settings_come_from_anbu_variables_and_a_bad_one_is_refused_by_name(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ANBU_DATA", str(tmp_path))
    monkeypatch.setenv("ANBU_WORKERS", "3")
    monkeypatch.setenv("ANBU_MODELS_DIR", str(tmp_path / "store"))
    settings = Settings()
    assert (settings.workers, settings.models_dir) == (3, tmp_path / "store")
    assert settings.keys_file == tmp_path / "_records" / "api_keys.toml"
    assert settings.records_location == str(tmp_path / "_records" / "anbu.sqlite")
    monkeypatch.setenv("ANBU_WORKERS", "0")
    with pytest.raises(ValidationError, match="workers"):
        Settings()
    monkeypatch.delenv("ANBU_DATA")
    monkeypatch.delenv("ANBU_WORKERS")
    with pytest.raises(ValueError, match="ANBU_DATA is not set"):
        Settings().folder  # noqa: B018


def test_no_module_reads_an_anbu_variable_by_hand() -> None:
    by_hand = re.compile(r"""(environ\.get\(|getenv\(|environ\[)\s*["']ANBU_""")
    offenders = [
        str(path.relative_to(ROOT)) for path in _sources() if by_hand.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_data_folder_names_are_joined_only_by_the_layout() -> None:
    joined = re.compile(r"""/\s*["']_(validated|scores|truth|records|lists|health)["']""")
    layout = ROOT / "anbu" / "data_folder.py"
    offenders = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if path != layout and joined.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_settings_and_the_layout_belong_to_no_stage_and_no_stage_reads_another_for_a_default() -> None:
    stage_import = re.compile(r"^\s*(from|import) (features|training|serving|synthetic)\b", re.M)
    for module in ("settings.py", "data_folder.py"):
        assert not stage_import.search((ROOT / "anbu" / module).read_text("utf-8")), module
    # A stage builds no settings of its own: the service's are built once per process, a
    # command's from its options, and both are passed down.
    built = re.compile(r"\bSettings\(")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("features", "training", "serving")
        for path in (ROOT / package).rglob("*.py")
        if built.search(path.read_text("utf-8"))
    ]
    # Two read the environment at each call on purpose: the model store follows it as MLflow's own
    # MLFLOW_TRACKING_URI does, and a Bento is told its packed model by it while being built.
    assert sorted(offenders) == ["serving/api/bento.py", "training/tracking.py"]


def test_the_layout_is_the_documented_one(tmp_path: Path) -> None:
    folder = DataFolder(tmp_path)
    assert folder.validated == tmp_path / "_validated" and folder.truth == tmp_path / "_truth"
    assert folder.scores(pd.Timestamp("2026-05-31")) == tmp_path / "_scores" / "2026-05-31"
    assert (folder.records_database, folder.keys) == (
        tmp_path / "_records" / "anbu.sqlite",
        tmp_path / "_records" / "api_keys.toml",
    )
    assert (
        folder.list_file(pd.Timestamp("2026-05-31"), "중랑구", None, "csv")
        == tmp_path / "_lists" / "2026-05-31-중랑구.csv"
    )


def test_the_older_name_of_the_records_setting_stops_a_set_up_naming_the_new_one(monkeypatch) -> None:
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    monkeypatch.setenv("ANBU_RECORDS", "/srv/anbu/records.sqlite")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert refusal(refused.value).startswith("ANBU_RECORDS is now ANBU_RECORDS_URL: set that one instead")
    # Left empty by a compose file, or set to the same database during the switch, it says nothing new.
    monkeypatch.setenv("ANBU_RECORDS", "")
    Settings()
    monkeypatch.setenv("ANBU_RECORDS", "/srv/anbu/records.sqlite")
    monkeypatch.setenv("ANBU_RECORDS_URL", "/srv/anbu/records.sqlite")
    assert Settings().records_location == "/srv/anbu/records.sqlite"
