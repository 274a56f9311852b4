"""Fixtures every test folder may use; their code lives in tests/support/, so a test imports its
helpers from there, never from another test module or a conftest."""

from tests.support.served import models_env, served, server  # noqa: F401  (fixtures, found by name)
