"""Loads schemathesis's pytest plugin for the fuzzing tests only.

pyproject's addopts switch off the schemathesis and hypothesis plugins that their packages register for every
pytest run: importing them cost every run, even of one small test file, several seconds before the first test.
pytest imports this conftest only when it collects tests/fuzzing, and registers the plugin then, before the
fuzzing module is collected (its `@schema.parametrize()` tests need the plugin's collection hook).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from schemathesis.pytest import plugin

    if not config.pluginmanager.is_registered(plugin):
        # Under another name than the entry point's "schemathesis", which addopts block.
        config.pluginmanager.register(plugin, "schemathesis-for-fuzzing")
