"""POST /api/connectors/{id}/test/: one real request with the connector's auth; secrets never echoed."""

from __future__ import annotations

import json

import httpx

from connectors.client import use_transport
from designer.models import Connector, Endpoint
from designer.services import create_connector
from tests.designer.conftest import SHOP_SECRET

CLIENT_SECRET = "oauth-client-s3cr3t"
ACCESS_TOKEN = "fresh-access-t0ken-xyz"


def test_bearer_credential_sent_and_not_echoed(editor_client, shop: Connector, get_order: Endpoint) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # A careless upstream that echoes the Authorization header back.
        return httpx.Response(200, json={"echo": request.headers.get("authorization"), "order": 7})

    with use_transport(httpx.MockTransport(handler)):
        answer = editor_client.post(
            f"/api/connectors/{shop.pk}/test/",
            {"endpoint": get_order.pk, "variables": {"order_id": "7"}},
            format="json",
        )
    assert answer.status_code == 200, answer.json()
    result = answer.json()
    assert [str(r.url) for r in seen] == ["https://shop.example.test/api/orders/7"]
    assert seen[0].headers["authorization"] == f"Bearer {SHOP_SECRET}"
    assert result["ok"] is True
    assert result["status"] == 200
    assert result["error"] is None
    assert result["duration_ms"] >= 0
    assert '"order":7' in result["body_excerpt"]
    assert SHOP_SECRET not in json.dumps(result)


def test_base_url_get_with_oauth2_token_fetch_and_long_body_cut(editor_client, db) -> None:
    connector = create_connector(
        name="Cloud",
        base_url="https://cloud.example.test/v1",
        auth_type=Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS,
        token_url="https://auth.example.test/token",
        client_id="patchbay",
        timeout=5,
        secrets={"client_secret": CLIENT_SECRET},
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.example.test":
            assert CLIENT_SECRET in request.content.decode()
            return httpx.Response(200, json={"access_token": ACCESS_TOKEN, "expires_in": 600})
        return httpx.Response(503, text="x" * 5000 + ACCESS_TOKEN)

    with use_transport(httpx.MockTransport(handler)):
        answer = editor_client.post(f"/api/connectors/{connector.pk}/test/", format="json")
    assert answer.status_code == 200
    result = answer.json()
    assert [(r.method, str(r.url)) for r in seen] == [
        ("POST", "https://auth.example.test/token"),
        ("GET", "https://cloud.example.test/v1"),
    ]
    assert seen[1].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert seen[1].extensions["timeout"]["read"] == 5
    assert result["ok"] is False
    assert result["status"] == 503
    assert result["error"] == "HTTP 503"
    assert result["body_excerpt"] == "x" * 2000
    assert ACCESS_TOKEN not in json.dumps(result)
    assert CLIENT_SECRET not in json.dumps(result)


def test_transport_error_is_ok_false_not_5xx(editor_client, shop: Connector) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with use_transport(httpx.MockTransport(handler)):
        answer = editor_client.post(f"/api/connectors/{shop.pk}/test/", {}, format="json")
    assert answer.status_code == 200
    result = answer.json()
    assert result["ok"] is False
    assert result["status"] is None
    assert "connection refused" in result["error"]
    assert result["body_excerpt"] == ""


def test_endpoint_of_another_connector_is_400(editor_client, shop: Connector, erp_post: Endpoint) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    with use_transport(httpx.MockTransport(handler)):
        answer = editor_client.post(
            f"/api/connectors/{shop.pk}/test/", {"endpoint": erp_post.pk}, format="json"
        )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "endpoint"


def test_viewer_may_not_test(viewer_client, shop: Connector) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    with use_transport(httpx.MockTransport(handler)):
        answer = viewer_client.post(f"/api/connectors/{shop.pk}/test/", {}, format="json")
    assert answer.status_code == 403
