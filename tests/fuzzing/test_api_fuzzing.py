"""API fuzzing (issue 7): schemathesis generates requests for every operation of `/api/schema/` and sends
them, as an authenticated admin (token header), to the Django WSGI application in this process.

Every answer must not be a 5xx and must match the response schema the API documents for it (body and
content type). The number of examples per operation is bounded so the whole test takes about a minute.
Outbound HTTP (a connector or script test an operation may trigger) goes to a local fake that refuses it,
so nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from config.wsgi import application
from connectors.client import use_transport
from designer.services import create_connector, create_flow, deploy_flow

pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.timeout(600)]

EXAMPLES_PER_OPERATION = 5


def _refuse_outbound(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("outbound HTTP is disabled in the fuzzing test", request=request)


@pytest.fixture
def admin_token(admin_user) -> str:
    token, _ = Token.objects.get_or_create(user=admin_user)
    return token.key


@pytest.fixture
def fuzzed_api(admin_token: str) -> Iterator[None]:
    """A few objects (so generated ids sometimes hit real rows), no outbound HTTP, a kept DB connection."""
    connector = create_connector(name="Fuzz connector", base_url="http://127.0.0.1:9/")
    flow = create_flow(
        name="Fuzz flow",
        graph={
            "shapes": [
                {
                    "id": "trigger",
                    "type": "trigger",
                    "name": "Start",
                    "position": {"x": 0, "y": 0},
                    "settings": {"kind": "manual"},
                }
            ],
            "connections": [],
        },
    )
    deploy_flow(flow=flow)
    assert connector.pk and flow.pk
    # As Django's test client does: the WSGI handler must not close the test's database connection
    # (it holds the test transaction) at the end of every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with use_transport(httpx.MockTransport(_refuse_outbound)):
            yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# The schema endpoint is public (drf-spectacular's default); loading it at import needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_without_5xx_and_within_its_schema(
    case: schemathesis.Case, fuzzed_api: None, admin_token: str
) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        # Read the WSGI response to its end and close it, so Django closes the request (and its files).
        buffered=True,
    )
