"""One synthetic city per test session: large enough for stable shares, small enough to be quick."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic.generator import generate_city

TEST_CITY_HOUSEHOLDS = 20_000


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(out, households=TEST_CITY_HOUSEHOLDS, months=24, seed=11)
    return out
