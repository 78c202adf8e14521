"""The signed trigger chain header (runs/chain.py) reaches this installation's own hosts only.

A recording upstream (MockTransport at the I/O edge) sees what each host received: an outside API, also
one reached by a redirect from this installation or allowed by a wildcard ALLOWED_HOSTS, never gets
`X-Patchbay-Trigger-Chain`; a host this Patchbay serves does, with a token holding the calling run.
"""

from __future__ import annotations

import httpx
import pytest

from runs import chain, services
from runs.models import Run
from tests.connectors.conftest import API, EVIL, World
from tests.runs.conftest import drive, shape

pytestmark = pytest.mark.usefixtures("fast_retries")

OWN = "https://patchbay.example.test"


@pytest.fixture
def call(make_flow, make_connector, make_endpoint):
    """call(base_url, path) -> a run of one connector shape calling base_url + path, driven to its end."""

    def factory(base_url: str, path: str = "/things") -> Run:
        connector = make_connector(base_url=base_url)
        endpoint = make_endpoint(connector, path=path)
        flow = make_flow(
            [shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=0)]
        )
        return drive(services.enqueue_run(flow=flow, trigger="api"))

    return factory


def chain_headers(world: World, origin: str) -> list[str]:
    return [r.headers[chain.HEADER] for r in world.received_by(origin) if chain.HEADER in r.headers]


def test_a_foreign_api_never_sees_the_chain_header(world: World, call, settings) -> None:
    settings.PATCHBAY_BASE_URL = OWN
    world.route(f"{API}/things", {"ok": True})

    run = call(API)

    assert run.status == Run.Status.SUCCEEDED
    assert len(world.received_by(API)) == 1
    assert chain_headers(world, API) == []
    assert chain.HEADER.lower() not in world.wire_text(API).lower()


def test_the_installations_own_host_gets_a_token_of_the_calling_run(world: World, call, settings) -> None:
    settings.PATCHBAY_BASE_URL = OWN
    world.route(f"{OWN}/things", {"ok": True})

    run = call(OWN)

    assert run.status == Run.Status.SUCCEEDED
    (token,) = chain_headers(world, OWN)
    assert chain.chain_from_token(token) == [{"run": run.pk, "flow": run.flow_id}]


def test_a_concrete_allowed_host_is_own(world: World, call, settings) -> None:
    settings.ALLOWED_HOSTS = ["hooks.example.test"]
    world.route("https://hooks.example.test/things", {"ok": True})

    call("https://hooks.example.test")

    assert len(chain_headers(world, "https://hooks.example.test")) == 1


def test_a_wildcard_allowed_hosts_does_not_make_every_host_own(world: World, call, settings) -> None:
    settings.ALLOWED_HOSTS = ["*", ".example.test"]
    settings.PATCHBAY_BASE_URL = ""
    world.route(f"{API}/things", {"ok": True})

    run = call(API)

    assert run.status == Run.Status.SUCCEEDED
    assert len(world.received_by(API)) == 1
    assert chain_headers(world, API) == []


def test_a_redirect_from_the_own_host_to_a_foreign_one_drops_the_header(world: World, call, settings) -> None:
    settings.PATCHBAY_BASE_URL = OWN
    world.route(f"{OWN}/things", httpx.Response(302, headers={"Location": f"{EVIL}/collect"}))
    world.route(f"{EVIL}/collect", {"ok": True})

    call(OWN)

    assert len(chain_headers(world, OWN)) == 1
    assert len(world.received_by(EVIL)) == 1
    assert chain_headers(world, EVIL) == []
