"""Fixtures every test folder may use, and which tests `make test-fast` leaves out.

The fixtures' code lives in tests/support/, so a test imports its helpers from there, never from
another test module or a conftest.
"""

from __future__ import annotations

import pytest

from tests.support.browser import browser  # noqa: F401  (fixtures, found by name)
from tests.support.served import models_env, served, served_mean, server  # noqa: F401

SLOW_FIXTURES = frozenset(
    {
        "served",
        "served_mean",
        "server",
        "models_env",
        "city",
        "cities",
        "trained",
        "uninterrupted",
        "spark",
        "store",
        "loop_runs",
    }
)
"""Fixtures that generate a synthetic city of thousands of households, train on it, start a real
server or a Spark session, or register models in an MLflow store (`store`): a test that uses one is
`slow`, found from what it asks for rather than kept by hand."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
