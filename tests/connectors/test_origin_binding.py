"""Credentials stay with the connector's origin: redirects, pagination, the token request, rendered paths.

Each test is an attack an editor or a hostile upstream could mount; the canary must never reach evil.test.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest

from designer.models import Connector
from runs import services
from runs.models import Attempt, Run
from tests.connectors.conftest import API, CANARY, EVIL, World, stored_text
from tests.runs.conftest import drive

pytestmark = pytest.mark.usefixtures("fast_retries")


def redirect_to(url: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": url})


@pytest.fixture
def call(make_flow, make_connector, make_endpoint):
    """call(connector fields, **endpoint fields) -> a run of one connector shape, driven to its end."""

    def factory(connector_fields: dict | None = None, **endpoint_fields) -> Run:
        connector = make_connector(base_url=API, **(connector_fields or {}))
        endpoint_fields.setdefault("path", "/things")
        endpoint = make_endpoint(connector, **endpoint_fields)
        flow = make_flow([shape_call(connector.pk, endpoint.pk)])
        return drive(services.enqueue_run(flow=flow, trigger="api"))

    return factory


def shape_call(connector_id: int, endpoint_id: int) -> dict:
    from tests.runs.conftest import shape

    return shape("call", "connector", connector=connector_id, endpoint=endpoint_id, retries=0)


AUTH_KINDS = [
    pytest.param({"auth_type": "bearer", "secrets": {"token": CANARY}}, id="bearer"),
    pytest.param(
        {"auth_type": "api_key_header", "api_key_name": "X-Shop-Key", "secrets": {"api_key": CANARY}},
        id="api-key-header",
    ),
    pytest.param(
        {"auth_type": "api_key_query", "api_key_name": "key", "secrets": {"api_key": CANARY}},
        id="api-key-query",
    ),
    pytest.param({"auth_type": "basic", "username": "shop", "secrets": {"password": CANARY}}, id="basic"),
    pytest.param(
        {"auth_type": "none", "default_headers": {"Cookie": f"session={CANARY}"}}, id="cookie-default-header"
    ),
]


def leaked(world: World, origin: str = EVIL) -> bool:
    wire = world.wire_text(origin)
    basic = base64.b64encode(f"shop:{CANARY}".encode()).decode()
    return CANARY in wire or basic in wire


@pytest.mark.parametrize("connector_fields", AUTH_KINDS)
def test_a_redirect_to_another_origin_carries_no_credential(world: World, call, connector_fields) -> None:
    world.route(f"{API}/things", redirect_to(f"{EVIL}/collect"))
    world.route(f"{EVIL}/collect", {"got": "it"})

    run = call(connector_fields)

    assert world.received_by(EVIL), "the redirect is followed (without credentials)"
    assert not leaked(world)
    assert run.status == Run.Status.SUCCEEDED


@pytest.mark.parametrize("connector_fields", AUTH_KINDS)
def test_a_redirect_that_echoes_the_api_key_in_its_location_loses_it(world: World, call, connector_fields):
    world.route(f"{API}/things", lambda r: redirect_to(f"{EVIL}/collect?{r.url.query.decode()}", 307))
    world.route(f"{EVIL}/collect", {"got": "it"})
    call(connector_fields)
    assert not leaked(world)


def test_a_connector_can_refuse_cross_origin_redirects(world: World, call) -> None:
    world.route(f"{API}/things", redirect_to(f"{EVIL}/collect"))
    run = call({"auth_type": "bearer", "secrets": {"token": CANARY}, "cross_origin_redirects": "refuse"})

    assert world.received_by(EVIL) == []
    assert run.status == Run.Status.FAILED
    assert "redirected to another origin (https://evil.test)" in run.error
    assert CANARY not in stored_text()


def test_a_same_origin_redirect_keeps_the_credentials(world: World, call) -> None:
    world.route(f"{API}/things", redirect_to("/v2/things", 308))
    world.route(
        f"{API}/v2/things", lambda r: httpx.Response(200 if r.headers.get("x-key") == CANARY else 401)
    )
    run = call({"auth_type": "api_key_header", "api_key_name": "X-Key", "secrets": {"api_key": CANARY}})
    assert run.status == Run.Status.SUCCEEDED


def test_a_redirect_to_an_allowed_host_keeps_the_credentials(world: World, call) -> None:
    world.route(f"{API}/things", redirect_to("https://files.example.test/blob"))
    world.route(
        "https://files.example.test/blob",
        lambda r: httpx.Response(200 if r.headers.get("authorization") == f"Bearer {CANARY}" else 401),
    )
    run = call({"auth_type": "bearer", "secrets": {"token": CANARY}, "allowed_hosts": ["files.example.test"]})
    assert run.status == Run.Status.SUCCEEDED


@pytest.mark.parametrize(
    ("pagination", "first_page"),
    [
        pytest.param(
            {"style": "next_url", "next_path": "next"},
            httpx.Response(200, json={"items": [1], "next": f"{EVIL}/page2"}),
            id="next-url",
        ),
        pytest.param(
            {"style": "link_header"},
            httpx.Response(200, json=[1], headers={"Link": f'<{EVIL}/page2>; rel="next"'}),
            id="link-header",
        ),
    ],
)
def test_a_next_page_on_another_origin_is_refused(world: World, call, pagination, first_page) -> None:
    world.route(f"{API}/things", first_page)
    world.route(f"{EVIL}/page2", {"items": []})

    run = call({"auth_type": "bearer", "secrets": {"token": CANARY}}, pagination=pagination)

    assert world.received_by(EVIL) == []
    assert run.status == Run.Status.FAILED
    assert "the next page is on another origin (https://evil.test)" in run.error
    assert "allowed hosts" in run.error


def test_a_next_page_on_an_allowed_host_is_followed_with_credentials(world: World, call) -> None:
    world.route(f"{API}/things", {"items": [1], "next": "https://page.example.test/2"})
    world.route(
        "https://page.example.test/2",
        lambda r: (
            httpx.Response(200, json={"items": [2], "next": None})
            if r.headers.get("authorization") == f"Bearer {CANARY}"
            else httpx.Response(401)
        ),
    )
    run = call(
        {"auth_type": "bearer", "secrets": {"token": CANARY}, "allowed_hosts": ["page.example.test"]},
        pagination={"style": "next_url", "next_path": "next"},
    )
    assert run.status == Run.Status.SUCCEEDED
    assert run.steps.get(shape_id="call").outputs == 2


def test_the_oauth2_token_request_never_follows_a_redirect(world: World, call) -> None:
    world.route(f"{API}/token", redirect_to(f"{EVIL}/token", 307))
    world.route(f"{EVIL}/token", {"access_token": "stolen"})
    world.route(f"{API}/things", {"ok": True})

    run = call(
        {
            "auth_type": "oauth2_client_credentials",
            "token_url": f"{API}/token",
            "client_id": "patchbay",
            "secrets": {"client_secret": CANARY},
        }
    )

    assert world.received_by(EVIL) == []
    assert run.status == Run.Status.FAILED
    assert "token requests never follow redirects" in run.error


@pytest.mark.parametrize(
    "host_value", ["https://evil.test", "//evil.test", "https:/evil.test", "@evil.test", "evil.test"]
)
def test_a_path_starting_with_a_placeholder_cannot_pick_the_host(
    world: World, make_flow, make_connector, make_endpoint, host_value: str
) -> None:
    connector = make_connector(base_url=API, auth_type="bearer", secrets={"token": CANARY})
    endpoint = make_endpoint(connector, path="[[payload.target]]/orders")
    flow = make_flow([shape_call(connector.pk, endpoint.pk)])
    drive(services.enqueue_run(flow=flow, trigger="api", payload=f'{{"target": "{host_value}"}}'))

    assert world.received_by(EVIL) == []
    assert all(r.url.host == "api.example.test" for r in world.requests)


def test_placeholder_values_are_percent_encoded_in_the_path(world, make_flow, make_connector, make_endpoint):
    connector = make_connector(base_url=f"{API}/v1")
    endpoint = make_endpoint(connector, path="/orders/[[payload.id]]", query={"q": "[[payload.q]]"})
    flow = make_flow([shape_call(connector.pk, endpoint.pk)])
    world.route(f"{API}/v1/orders/../admin?x=1", {"ok": True})

    drive(services.enqueue_run(flow=flow, trigger="api", payload='{"id": "../admin?x=1#f", "q": "a&b=c"}'))

    request = world.requests[0]
    assert request.url.raw_path == b"/v1/orders/..%2Fadmin%3Fx%3D1%23f?q=a%26b%3Dc"
    assert dict(request.url.params) == {"q": "a&b=c"}


def test_a_literal_query_in_the_path_is_merged_with_the_endpoint_query(
    world, make_flow, make_connector, make_endpoint
) -> None:
    connector = make_connector(
        base_url=API, auth_type="api_key_query", api_key_name="key", secrets={"api_key": CANARY}
    )
    endpoint = make_endpoint(
        connector, path="/things?status=open&sort=[[payload.sort]]", query={"page_size": "50"}
    )
    world.route(f"{API}/things", {"ok": True})
    flow = make_flow([shape_call(connector.pk, endpoint.pk)])
    run = drive(services.enqueue_run(flow=flow, trigger="api", payload='{"sort": "-date&x=1"}'))

    assert run.status == Run.Status.SUCCEEDED
    query = parse_qs(world.requests[0].url.query.decode())
    assert query == {"status": ["open"], "sort": ["-date&x=1"], "page_size": ["50"], "key": [CANARY]}
    recorded = Attempt.objects.get(step__run=run).request["url"]
    assert CANARY not in recorded and "status=open" in recorded


def test_an_absolute_path_to_another_origin_is_refused(world, call) -> None:
    run = call({"auth_type": "bearer", "secrets": {"token": CANARY}}, path=f"{EVIL}/x")
    assert world.requests == []
    assert run.status == Run.Status.FAILED
    assert "cannot change scheme, host or port" in run.error


def test_the_connection_test_drops_credentials_on_a_cross_origin_redirect(world, editor_client, db) -> None:
    connector = Connector.objects.create(name="Shop", base_url=API, auth_type="api_key_header")
    connector.api_key_name = "X-Shop-Key"
    connector.set_secrets({"api_key": CANARY})
    connector.save()
    world.route(API + "/", redirect_to(f"{EVIL}/collect"))
    world.route(f"{EVIL}/collect", lambda r: httpx.Response(200, text=str(list(r.headers.multi_items()))))

    answer = editor_client.post(f"/api/connectors/{connector.pk}/test/", {}, format="json")

    assert answer.status_code == 200
    assert world.received_by(EVIL)
    assert not leaked(world)
    assert CANARY not in answer.content.decode()


def test_the_connection_test_refuses_a_path_that_picks_the_host(world, editor_client, db) -> None:
    connector = Connector.objects.create(name="Shop", base_url=API, auth_type="bearer")
    connector.set_secrets({"token": CANARY})
    connector.save()
    endpoint = connector.endpoints.create(name="Any", path="[[variables.where]]")

    answer = editor_client.post(
        f"/api/connectors/{connector.pk}/test/",
        {"endpoint": endpoint.pk, "variables": {"where": f"{EVIL}/x"}},
        format="json",
    )

    assert answer.status_code == 200
    assert world.received_by(EVIL) == []
