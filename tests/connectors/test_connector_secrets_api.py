"""Connector secrets through the API: validated, trimmed, never echoed, and not kept when the origin moves."""

from __future__ import annotations

import httpx
import pytest

from designer.models import Connector
from tests.connectors.conftest import API, CANARY, EVIL, World


def create(client, **fields) -> dict:
    body = {"name": "Shop", "base_url": API, "auth_type": "bearer", "token": CANARY, **fields}
    answer = client.post("/api/connectors/", body, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


@pytest.mark.parametrize("secret_field", ["token", "password", "api_key", "client_secret"])
@pytest.mark.parametrize(
    "bad", [f"{CANARY}\nX-Injected: 1", f"{CANARY}\rX", f"ab\x00{CANARY}", f"{CANARY}\x7f"]
)
def test_a_secret_with_control_characters_is_refused_naming_the_field(
    editor_client, secret_field, bad
) -> None:
    answer = editor_client.post(
        "/api/connectors/",
        {"name": "Shop", "base_url": API, "auth_type": "none", secret_field: bad},
        format="json",
    )
    assert answer.status_code == 400
    body = answer.json()
    assert secret_field in str(body) and "control characters" in str(body)
    assert CANARY not in answer.content.decode()
    assert not Connector.objects.exists()


def test_a_pasted_token_is_trimmed(editor_client, world: World) -> None:
    connector = create(editor_client, token=f"  {CANARY}\n")
    assert Connector.objects.get(pk=connector["id"]).get_secrets() == {"token": CANARY}
    assert CANARY not in str(connector)


@pytest.mark.parametrize(
    "fields",
    [
        {"default_headers": {"X-Tenant": "a\r\nX-Evil: 1"}},
        {"default_headers": {"Bad Header": "x"}},
        {"username": "sh\nop"},
        {"api_key_name": "X-K\ney", "auth_type": "api_key_header", "api_key": CANARY},
    ],
)
def test_header_values_and_names_with_control_characters_are_refused(editor_client, fields) -> None:
    answer = editor_client.post(
        "/api/connectors/", {"name": "Shop", "base_url": API, "auth_type": "none", **fields}, format="json"
    )
    assert answer.status_code == 400, answer.json()


def test_endpoint_headers_with_control_characters_are_refused(editor_client) -> None:
    connector = create(editor_client)
    answer = editor_client.post(
        "/api/endpoints/",
        {"connector": connector["id"], "name": "x", "path": "/x", "headers": {"X-A": "1\n2"}},
        format="json",
    )
    assert answer.status_code == 400
    assert "headers" in answer.json()["errors"][0]["field"]


def test_moving_the_base_url_to_another_origin_does_not_deliver_the_secret_there(
    editor_client, world: World
) -> None:
    """The exfiltration: point the connector at your own host, then press "Test connection"."""
    connector = create(editor_client)
    world.route(f"{EVIL}/", lambda r: httpx.Response(200, text="thanks"))

    moved = editor_client.patch(f"/api/connectors/{connector['id']}/", {"base_url": EVIL}, format="json")
    editor_client.post(f"/api/connectors/{connector['id']}/test/", {}, format="json")

    assert moved.status_code == 400
    assert "give them again" in moved.json()["detail"]
    assert CANARY not in world.wire_text(EVIL)
    assert Connector.objects.get(pk=connector["id"]).base_url == API


def test_moving_the_base_url_and_dropping_auth_clears_the_stored_secrets(editor_client, world: World) -> None:
    connector = create(editor_client)
    world.route(f"{EVIL}/", lambda r: httpx.Response(200, text="thanks"))
    moved = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"base_url": EVIL, "auth_type": "none"}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["secrets_set"] == []
    back = editor_client.patch(f"/api/connectors/{connector['id']}/", {"auth_type": "bearer"}, format="json")
    assert back.status_code == 400
    editor_client.post(f"/api/connectors/{connector['id']}/test/", {}, format="json")
    assert CANARY not in world.wire_text(EVIL)


def test_moving_the_base_url_with_the_secret_given_again_keeps_the_new_one(editor_client) -> None:
    connector = create(editor_client)
    moved = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"base_url": EVIL, "token": "new-token-1"}, format="json"
    )
    assert moved.status_code == 200
    assert Connector.objects.get(pk=connector["id"]).get_secrets() == {"token": "new-token-1"}


def test_a_new_path_on_the_same_origin_keeps_the_secret(editor_client) -> None:
    connector = create(editor_client)
    moved = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"base_url": f"{API}/v2"}, format="json"
    )
    assert moved.status_code == 200
    assert moved.json()["secrets_set"] == ["token"]


def test_moving_the_token_url_clears_the_client_secret(editor_client) -> None:
    connector = create(
        editor_client,
        auth_type="oauth2_client_credentials",
        token_url=f"{API}/token",
        client_id="patchbay",
        client_secret=CANARY,
    )
    moved = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"token_url": f"{EVIL}/token"}, format="json"
    )
    assert moved.status_code == 400
    assert moved.json()["errors"][0]["field"] == "client_secret"


def test_adding_an_allowed_host_clears_the_secrets(editor_client) -> None:
    connector = create(editor_client)
    moved = editor_client.patch(
        f"/api/connectors/{connector['id']}/", {"allowed_hosts": ["evil.test"]}, format="json"
    )
    assert moved.status_code == 400
    given = editor_client.patch(
        f"/api/connectors/{connector['id']}/",
        {"allowed_hosts": ["Files.Example.Test", "files.example.test:8443"], "token": CANARY},
        format="json",
    )
    assert given.status_code == 200
    assert given.json()["allowed_hosts"] == ["files.example.test", "files.example.test:8443"]
    assert given.json()["cross_origin_redirects"] == "drop_credentials"


@pytest.mark.parametrize("entry", ["https://evil.test/x", "evil test", "*.example.test", ""])
def test_allowed_hosts_must_be_host_names(editor_client, entry) -> None:
    answer = editor_client.post(
        "/api/connectors/",
        {"name": "Shop", "base_url": API, "auth_type": "none", "allowed_hosts": [entry]},
        format="json",
    )
    assert answer.status_code == 400
