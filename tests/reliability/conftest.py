"""Fault tests share the run fixtures of tests/runs (flows, connectors, endpoints)."""

from tests.runs.conftest import make_connector, make_endpoint, make_flow

__all__ = ["make_connector", "make_endpoint", "make_flow"]
