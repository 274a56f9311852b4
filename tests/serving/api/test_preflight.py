"""The service refuses to start in one sentence when its set-up is broken."""

from __future__ import annotations

import pytest

from anbu.settings import Settings
from serving.api.preflight import StartRefused, preflight


def test_the_service_refuses_to_start_without_a_data_folder_in_one_sentence(monkeypatch) -> None:
    monkeypatch.delenv("ANBU_DATA", raising=False)
    with pytest.raises(StartRefused, match=r"^ANBU_DATA is not set: point it at the data directory"):
        preflight(Settings())


def test_records_of_an_earlier_layout_stop_the_start_naming_the_command(
    served, tmp_path, monkeypatch
) -> None:
    import shutil
    import sqlite3

    from serving.records.store import Records

    data = tmp_path / "city"
    shutil.copytree(served.data, data, ignore=shutil.ignore_patterns("_records"))
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("ANBU_RECORDS_URL", raising=False)
    settings = Settings(data=data)
    preflight(settings)  # no records yet: nothing is laid out or keyed before the service writes
    assert not (data / "_records").exists()
    Records(settings.records_location).close()
    with sqlite3.connect(settings.records_location) as db:
        db.execute("DROP TABLE records_format")
    with pytest.raises(
        StartRefused, match=rf"format 1, this anbu reads format 2: run `anbu migrate --data {data}` once"
    ):
        preflight(settings)


def test_records_that_cannot_be_opened_are_named_not_a_traceback(served, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(data=served.data, records_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(
        StartRefused,
        match=r"^the records at postgresql\+psycopg://nobody@127\.0\.0\.1:1/none cannot be opened \(OperationalError",
    ):
        preflight(settings)
