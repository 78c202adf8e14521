"""The run fixtures of tests/runs (flows, connectors, endpoints) for the alert tests."""

from tests.runs.conftest import make_connector, make_endpoint, make_flow  # noqa: F401
