"""The service refuses to start in one sentence when its set-up is broken."""

from __future__ import annotations

import pytest

from anbu.settings import Settings
from serving.api.preflight import StartRefused, preflight


def test_the_service_refuses_to_start_without_a_data_folder_in_one_sentence(monkeypatch) -> None:
    monkeypatch.delenv("ANBU_DATA", raising=False)
    with pytest.raises(StartRefused, match=r"^ANBU_DATA is not set: point it at the data directory"):
        preflight(Settings())
