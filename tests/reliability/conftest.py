"""Fault tests share the run fixtures of tests/runs (flows, connectors, endpoints).

Every test here kills processes, floods a server or runs hundreds of runs: all carry the `faults` marker, so
`make test-fast` leaves them out and `make test` runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runs.conftest import make_connector, make_endpoint, make_flow

__all__ = ["make_connector", "make_endpoint", "make_flow"]

HERE = Path(__file__).parent


# First, so that `-m "not faults"` (the mark plugin's own hook) sees the marker.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.faults)
