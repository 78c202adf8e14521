"""Every connector auth type: the request carries the credential, the stored Attempt never does."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import httpx
import pytest

from runs import services
from runs.models import Attempt, Run
from tests.runs.conftest import drive, run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def call_flow(make_flow, make_connector, make_endpoint):
    def factory(**connector_fields):
        connector = make_connector(base_url="https://api.example.test", **connector_fields)
        endpoint = make_endpoint(connector, path="/things")
        flow = make_flow(
            [shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=1)]
        )
        return flow, connector

    return factory


def stored_attempts(run: Run) -> str:
    return json.dumps(list(Attempt.objects.filter(step__run=run).values("request", "response", "message")))


def all_logs(run: Run) -> str:
    return " ".join(run.log_lines.values_list("message", flat=True))


def test_no_auth_sends_no_credentials(call_flow, upstream):
    flow, _ = call_flow()
    upstream.add("GET /things", {"ok": True})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert run.status == Run.Status.SUCCEEDED
    assert "authorization" not in upstream.requests[0].headers


def test_basic_auth(call_flow, upstream):
    flow, _ = call_flow(auth_type="basic", username="shop", secrets={"password": "pa55-w0rd-secret"})
    upstream.add("GET /things", {"ok": True})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    expected = base64.b64encode(b"shop:pa55-w0rd-secret").decode()
    assert upstream.requests[0].headers["authorization"] == f"Basic {expected}"
    stored = stored_attempts(run)
    assert "pa55-w0rd-secret" not in stored and expected not in stored
    assert json.loads(stored)[0]["request"]["headers"]["authorization"] == "***"


def test_bearer_token(call_flow, upstream):
    flow, _ = call_flow(auth_type="bearer", secrets={"token": "bearer-token-secret-1"})
    upstream.add("GET /things", {"echo": "bearer-token-secret-1"})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert upstream.requests[0].headers["authorization"] == "Bearer bearer-token-secret-1"
    assert "bearer-token-secret-1" not in stored_attempts(run)
    assert "bearer-token-secret-1" not in all_logs(run)


def test_api_key_in_a_header(call_flow, upstream):
    flow, _ = call_flow(
        auth_type="api_key_header", api_key_name="X-Api-Key", secrets={"api_key": "hdr-key-secret"}
    )
    upstream.add("GET /things", {"ok": True})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert upstream.requests[0].headers["x-api-key"] == "hdr-key-secret"
    stored = stored_attempts(run)
    assert "hdr-key-secret" not in stored
    assert json.loads(stored)[0]["request"]["headers"]["x-api-key"] == "***"


def test_api_key_in_the_query(call_flow, upstream):
    flow, _ = call_flow(
        auth_type="api_key_query", api_key_name="key", secrets={"api_key": "query-key-secret"}
    )
    upstream.add("GET /things", {"ok": True})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert upstream.requests[0].url.params["key"] == "query-key-secret"
    stored = stored_attempts(run)
    assert "query-key-secret" not in stored and "query-key-secret" not in all_logs(run)
    assert "key=%2A%2A%2A" in json.loads(stored)[0]["request"]["url"]


def oauth_connector_fields() -> dict:
    return {
        "auth_type": "oauth2_client_credentials",
        "token_url": "https://auth.example.test/token",
        "client_id": "patchbay",
        "scope": "orders",
        "secrets": {"client_secret": "client-secret-value"},
    }


def token_endpoint(upstream, tokens: list[str], expires_in: int = 3600) -> None:
    def issue(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_id"] == ["patchbay"] and form["client_secret"] == ["client-secret-value"]
        assert form["scope"] == ["orders"]
        return httpx.Response(200, json={"access_token": tokens.pop(0), "expires_in": expires_in})

    upstream.add("POST /token", issue)


def test_oauth2_fetches_a_token_once_and_caches_it_across_runs(call_flow, upstream):
    flow, _ = call_flow(**oauth_connector_fields())
    token_endpoint(upstream, ["tok-one-secret", "tok-two-secret"])
    upstream.add("GET /things", {"ok": True})

    first = run_once(services.enqueue_run(flow=flow, trigger="api"))
    second = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert first.status == second.status == Run.Status.SUCCEEDED
    assert len(upstream.calls("POST /token")) == 1
    assert [r.headers["authorization"] for r in upstream.calls("GET /things")] == [
        "Bearer tok-one-secret"
    ] * 2
    assert "tok-one-secret" not in stored_attempts(first) and "client-secret-value" not in stored_attempts(
        first
    )


def test_oauth2_refreshes_an_expired_token(call_flow, upstream):
    flow, _ = call_flow(**oauth_connector_fields())
    # Lifetime inside the expiry margin: the token counts as expired at once.
    token_endpoint(upstream, ["short-lived-1", "short-lived-2"], expires_in=5)
    upstream.add("GET /things", {"ok": True})

    run_once(services.enqueue_run(flow=flow, trigger="api"))
    run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert [r.headers["authorization"] for r in upstream.calls("GET /things")] == [
        "Bearer short-lived-1",
        "Bearer short-lived-2",
    ]


def test_oauth2_refreshes_the_token_on_a_401_and_retries_once_at_once(call_flow, upstream):
    flow, _ = call_flow(**oauth_connector_fields())
    token_endpoint(upstream, ["revoked-token", "fresh-token"])

    def things(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer revoked-token":
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"ok": True})

    upstream.add("GET /things", things)
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.SUCCEEDED
    step = run.steps.get(shape_id="call")
    assert step.attempts == 1
    assert list(Attempt.objects.filter(step=step).values_list("outcome", "http_status")) == [
        ("reauthenticate", 401),
        ("continue", 200),
    ]
    assert "Re-authenticating connector" in all_logs(run)
    stored = stored_attempts(run)
    assert "revoked-token" not in stored and "fresh-token" not in stored


def test_oauth2_still_refused_after_refreshing_fails_the_run(call_flow, upstream):
    flow, _ = call_flow(**oauth_connector_fields())
    token_endpoint(upstream, ["t1-secret", "t2-secret"])
    upstream.add("GET /things", httpx.Response(401))
    run = drive(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.FAILED
    assert "HTTP 401" in run.error
    assert len(upstream.calls("GET /things")) == 2


def test_an_unreachable_token_endpoint_retries_the_step(call_flow, upstream):
    flow, _ = call_flow(**oauth_connector_fields())
    upstream.add("POST /token", httpx.Response(503), httpx.Response(200, json={"access_token": "late-token"}))
    upstream.add("GET /things", {"ok": True})

    run = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert run.status == Run.Status.QUEUED
    assert drive(run).status == Run.Status.SUCCEEDED
