"""The run-test fixtures (flows, connectors, a fake upstream, fast retries) for the bad-input tests."""

from tests.runs.conftest import (  # noqa: F401 - fixtures are found by name
    fast_retries,
    make_connector,
    make_endpoint,
    make_flow,
    make_script,
    upstream,
)
