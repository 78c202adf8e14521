"""Connectors and endpoints through the API; connector secrets are write-only and never shown."""

from __future__ import annotations

import json
import logging

import pytest

from designer.models import Connector, Endpoint
from tests.designer.conftest import SHOP_SECRET, chain, shape


def test_connector_crud_with_write_only_secrets(editor_client) -> None:
    created = editor_client.post(
        "/api/connectors/",
        {
            "name": "Shop API",
            "base_url": "https://shop.example.test/api",
            "auth_type": "basic",
            "username": "shop-user",
            "password": "pa55-word",
            "default_headers": {"Accept": "application/json"},
            "timeout": 10,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    connector = created.json()
    assert connector["secrets_set"] == ["password"]
    assert "password" not in connector
    assert "pa55-word" not in json.dumps(connector)
    stored = Connector.objects.get(pk=connector["id"])
    assert "pa55-word" not in stored.secrets_encrypted
    assert stored.get_secrets() == {"password": "pa55-word"}

    # Leaving a secret out keeps it.
    changed = editor_client.patch(f"/api/connectors/{connector['id']}/", {"timeout": 20}, format="json")
    assert changed.status_code == 200
    assert changed.json()["timeout"] == 20
    assert changed.json()["secrets_set"] == ["password"]
    assert Connector.objects.get(pk=connector["id"]).get_secrets() == {"password": "pa55-word"}

    # A new value replaces it; switching auth type and clearing with "" removes it.
    editor_client.patch(f"/api/connectors/{connector['id']}/", {"password": "new-pa55"}, format="json")
    assert Connector.objects.get(pk=connector["id"]).get_secrets() == {"password": "new-pa55"}
    cleared = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"auth_type": "none", "password": ""}, format="json"
    )
    assert cleared.json()["secrets_set"] == []

    listed = editor_client.get("/api/connectors/").json()
    assert [c["name"] for c in listed["results"]] == ["Shop API"]
    assert editor_client.delete(f"/api/connectors/{connector['id']}/").status_code == 204
    assert editor_client.get(f"/api/connectors/{connector['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"auth_type": "basic", "username": "u"},
            [{"field": "password", "message": "Basic authentication needs a password."}],
        ),
        (
            {"auth_type": "basic"},
            [
                {"field": "username", "message": "Basic authentication needs a username."},
                {"field": "password", "message": "Basic authentication needs a password."},
            ],
        ),
        ({"auth_type": "bearer"}, [{"field": "token", "message": "Bearer authentication needs a token."}]),
        (
            {"auth_type": "api_key_header", "api_key": "k"},
            [
                {
                    "field": "api_key_name",
                    "message": "API key authentication needs the header name in 'api_key_name'.",
                }
            ],
        ),
        (
            {"auth_type": "api_key_query", "api_key_name": "key"},
            [{"field": "api_key", "message": "API key authentication needs an api_key."}],
        ),
        (
            {
                "auth_type": "oauth2_client_credentials",
                "token_url": "https://auth.example.test/token",
                "client_id": "c",
            },
            [{"field": "client_secret", "message": "OAuth2 client credentials need a client_secret."}],
        ),
    ],
)
def test_auth_type_requirements(editor_client, body, errors) -> None:
    response = editor_client.post(
        "/api/connectors/", {"name": "X", "base_url": "https://x.example.test", **body}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The connector's authentication settings are incomplete.",
        "errors": errors,
    }
    assert not Connector.objects.exists()


def test_clearing_a_required_secret_is_refused(editor_client, shop) -> None:
    response = editor_client.patch(f"/api/connectors/{shop.pk}/", {"token": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "token", "message": "Bearer authentication needs a token."}
    ]
    assert Connector.objects.get(pk=shop.pk).get_secrets() == {"token": SHOP_SECRET}


def test_connector_base_url_must_be_http(editor_client) -> None:
    response = editor_client.post(
        "/api/connectors/", {"name": "X", "base_url": "ftp://x.example.test"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "base_url", "message": "The base URL must start with http:// or https://."}
    ]


def test_secrets_never_appear_in_api_responses_or_logs(
    admin_client, shop, get_order, orders_flow, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        admin_client.get("/api/connectors/"),
        admin_client.get(f"/api/connectors/{shop.pk}/"),
        admin_client.patch(f"/api/connectors/{shop.pk}/", {"token": "rotated-s3cret"}, format="json"),
        admin_client.put(
            f"/api/flows/{orders_flow.pk}/draft/",
            chain(shape("call", "connector", connector=shop.pk, endpoint=get_order.pk)),
            format="json",
        ),
        admin_client.get(f"/api/flows/{orders_flow.pk}/export/"),
        admin_client.get("/api/schema/"),
    ]
    for response in responses:
        assert response.status_code == 200
        body = response.content.decode()
        assert SHOP_SECRET not in body
        assert "rotated-s3cret" not in body
    assert admin_client.get(f"/api/connectors/{shop.pk}/").json()["secrets_set"] == ["token"]
    assert SHOP_SECRET not in caplog.text and "rotated-s3cret" not in caplog.text


def test_a_connector_used_by_a_deployed_flow_cannot_be_deleted(
    editor_client, shop, get_order, orders_flow
) -> None:
    graph = chain(shape("call", "connector", connector=shop.pk, endpoint=get_order.pk))
    editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", graph, format="json")
    assert editor_client.post(f"/api/flows/{orders_flow.pk}/deploy/", format="json").status_code == 201
    response = editor_client.delete(f"/api/connectors/{shop.pk}/")
    assert response.status_code == 409
    assert (
        response.json()["detail"] == "Connector 'Shop API' is used by the flows 'Orders'; change them first."
    )
    response = editor_client.delete(f"/api/endpoints/{get_order.pk}/")
    assert response.status_code == 409
    assert (
        response.json()["detail"] == "Endpoint 'Get order' is used by the flows 'Orders'; change them first."
    )
    assert Endpoint.objects.filter(pk=get_order.pk).exists()


def test_endpoint_crud_and_connector_filter(editor_client, shop, erp, erp_post) -> None:
    created = editor_client.post(
        "/api/endpoints/",
        {
            "connector": shop.pk,
            "name": "List orders",
            "method": "GET",
            "path": "/orders",
            "query": {"status": "[[variables.status]]"},
            "pagination": {
                "style": "page_number",
                "page_param": "page",
                "page_size": 50,
                "items_path": "items",
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    endpoint = created.json()
    assert endpoint["pagination"]["style"] == "page_number"
    assert endpoint["body_format"] == "json"

    only_shop = editor_client.get(f"/api/endpoints/?connector={shop.pk}").json()["results"]
    assert [e["name"] for e in only_shop] == ["List orders"]
    everything = editor_client.get("/api/endpoints/").json()["results"]
    assert {e["name"] for e in everything} == {"List orders", "Post order"}

    changed = editor_client.patch(f"/api/endpoints/{endpoint['id']}/", {"method": "POST"}, format="json")
    assert changed.json()["method"] == "POST"
    assert editor_client.delete(f"/api/endpoints/{endpoint['id']}/").status_code == 204
    assert not Endpoint.objects.filter(pk=endpoint["id"]).exists()


def test_endpoint_connector_filter_must_be_an_id(editor_client) -> None:
    response = editor_client.get("/api/endpoints/?connector=shop")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "connector", "message": "A valid integer is required."}]


@pytest.mark.parametrize(
    ("pagination", "messages"),
    [
        (
            {"style": "scroll"},
            [
                "Unknown pagination style 'scroll' "
                "(none, page_number, offset_limit, next_url, link_header, cursor)."
            ],
        ),
        ({"style": "page_number"}, ["Pagination style 'page_number' needs 'page_param'."]),
        (
            {"style": "offset_limit", "offset_param": "offset", "limit_param": "limit", "limit": 0},
            ["Pagination option 'limit' must be at least 1."],
        ),
        (
            {"style": "cursor", "cursor_param": "after"},
            ["Pagination style 'cursor' needs 'cursor_path'."],
        ),
        (
            {"style": "next_url", "next_path": "links..next"},
            [
                "Pagination option 'next_path' is not a valid JMESPath expression: "
                "syntax error at column 6 near '.'."
            ],
        ),
        (
            {"style": "link_header", "page_param": "p"},
            ["Pagination style 'link_header' has no option 'page_param'."],
        ),
    ],
)
def test_pagination_settings_are_checked_per_style(editor_client, shop, pagination, messages) -> None:
    response = editor_client.post(
        "/api/endpoints/", {"connector": shop.pk, "name": "List", "pagination": pagination}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "pagination", "message": m} for m in messages]


def test_pre_request_script_needs_a_deployed_version(
    editor_client, shop, tidy_script, undeployed_script
) -> None:
    refused = editor_client.post(
        "/api/endpoints/",
        {"connector": shop.pk, "name": "Signed", "pre_request_script": undeployed_script.pk},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {
            "field": "pre_request_script",
            "message": "Script 'Unfinished' has no deployed version; deploy it first.",
        }
    ]
    accepted = editor_client.post(
        "/api/endpoints/",
        {"connector": shop.pk, "name": "Signed", "pre_request_script": tidy_script.pk},
        format="json",
    )
    assert accepted.status_code == 201
    assert accepted.json()["pre_request_script"] == tidy_script.pk


def test_endpoint_names_are_unique_per_connector(editor_client, shop, get_order) -> None:
    response = editor_client.post(
        "/api/endpoints/", {"connector": shop.pk, "name": "Get order"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "", "message": "The fields connector, name must make a unique set."}
    ]
