"""An upstream that echoes the request puts the secret into the response: it must not reach any stored row,
the run's answer, an event or a log, in any form, while the flow's own data passes on untouched."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import httpx
import pytest
from django.test import Client

from designer.models import Connector
from runs import services
from runs.models import Payload, Run
from tests.connectors.conftest import API, CANARY, LocalUpstream, World, stored_text
from tests.runs.conftest import drive, shape

pytestmark = pytest.mark.usefixtures("fast_retries")

BASIC = base64.b64encode(f"shop:{CANARY}".encode()).decode()
FORMS = [CANARY, quote(CANARY, safe=""), quote_plus(CANARY), BASIC, repr(CANARY.encode())[2:-1]]

AUTH_KINDS = [
    pytest.param({"auth_type": "bearer", "secrets": {"token": CANARY}}, id="bearer"),
    pytest.param(
        {"auth_type": "api_key_header", "api_key_name": "X-Api-Key", "secrets": {"api_key": CANARY}},
        id="api-key-header",
    ),
    pytest.param(
        {"auth_type": "api_key_query", "api_key_name": "key", "secrets": {"api_key": CANARY}},
        id="api-key-query",
    ),
    pytest.param({"auth_type": "basic", "username": "shop", "secrets": {"password": CANARY}}, id="basic"),
]


def echo(request: httpx.Request) -> httpx.Response:
    """A careless upstream: the request, credentials and all, comes back in the body (and a header)."""
    return httpx.Response(
        200,
        json={
            "url": str(request.url),
            "query": request.url.query.decode(),
            "headers": dict(request.headers),
            "auth_repr": repr(request.headers.get("authorization", "").encode()),
        },
        headers={"X-Echo": request.headers.get("authorization", "") or request.url.query.decode()},
    )


def assert_nowhere(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"{form!r} leaked"


@pytest.mark.parametrize("connector_fields", AUTH_KINDS)
def test_an_echoed_secret_is_in_no_stored_row_and_no_log(
    world: World,
    make_flow,
    make_connector,
    make_endpoint,
    viewer_client,
    admin_user,
    caplog,
    connector_fields,
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = make_connector(base_url=API, **connector_fields)
    echo_endpoint = make_endpoint(connector, path="/echo")
    keep = make_endpoint(connector, path="/keep", method="POST")
    world.route(f"{API}/echo", echo)
    world.route(f"{API}/keep", lambda r: httpx.Response(200, content=r.content))
    flow = make_flow(
        [
            shape("call", "connector", connector=connector.pk, endpoint=echo_endpoint.pk),
            shape("pass-on", "connector", connector=connector.pk, endpoint=keep.pk),
        ]
    )

    run = drive(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.SUCCEEDED
    # The flow's own data is untouched: the second shape received the echo with the secret in it.
    passed_on = world.requests[-1].content.decode()
    assert CANARY in passed_on or BASIC in passed_on
    assert_nowhere(stored_text())
    assert_nowhere(caplog.text)
    for path in (
        f"/api/runs/{run.pk}/",
        f"/api/runs/{run.pk}/logs/",
        *(f"/api/runs/{run.pk}/steps/{step.pk}/payloads/" for step in run.steps.all()),
        *(f"/api/runs/{run.pk}/steps/{step.pk}/attempts/" for step in run.steps.all()),
    ):
        answer = viewer_client.get(path)
        assert answer.status_code == 200, path
        assert_nowhere(answer.content.decode())
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    admin = Client()
    admin.force_login(admin_user)
    for model in ("run", "step", "payload", "logline"):
        listing = admin.get(f"/admin/runs/{model}/")
        assert listing.status_code == 200, model
        assert_nowhere(listing.content.decode())
    for step in run.steps.all():
        page = admin.get(f"/admin/runs/step/{step.pk}/change/")
        assert page.status_code == 200
        assert_nowhere(page.content.decode())
    for payload in Payload.objects.filter(run=run):
        page = admin.get(f"/admin/runs/payload/{payload.pk}/change/")
        assert page.status_code == 200
        assert_nowhere(page.content.decode())
    page = admin.get(f"/admin/runs/run/{run.pk}/change/")
    assert page.status_code == 200
    assert_nowhere(page.content.decode())


def test_a_large_echoed_payload_is_redacted_in_its_file_but_passed_on_whole(
    world: World, make_flow, make_connector, make_endpoint
) -> None:
    connector = make_connector(base_url=API, auth_type="bearer", secrets={"token": CANARY})
    big = make_endpoint(connector, path="/big")
    keep = make_endpoint(connector, path="/keep", method="POST")
    filler = "x" * 300_000
    world.route(
        f"{API}/big",
        lambda r: httpx.Response(200, json={"filler": filler, "auth": r.headers["authorization"]}),
    )
    world.route(f"{API}/keep", lambda r: httpx.Response(200, text="ok"))
    flow = make_flow(
        [
            shape("call", "connector", connector=connector.pk, endpoint=big.pk),
            shape("pass-on", "connector", connector=connector.pk, endpoint=keep.pk),
        ]
    )
    run = drive(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.SUCCEEDED
    assert CANARY in world.requests[-1].content.decode()
    assert CANARY not in stored_text(unreferenced_files=False)
    assert Payload.objects.filter(run=run).exclude(file="").count() == 2  # the large output and input


def test_a_pasted_token_with_a_newline_never_reaches_an_error_text(
    local_upstream: LocalUpstream, make_flow, make_endpoint, viewer_client, caplog, db
) -> None:
    """Stored before validation existed (or written by other means): the request fails, the text is clean."""
    caplog.set_level(logging.DEBUG)
    connector = Connector.objects.create(name="Legacy", base_url=local_upstream.url, auth_type="bearer")
    connector.set_secrets({"token": f"{CANARY}\n"})
    connector.save()
    endpoint = make_endpoint(connector, path="/orders")
    flow = make_flow([shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk)])

    run = drive(services.enqueue_run(flow=flow, trigger="api"))
    check = viewer_client.get(f"/api/runs/{run.pk}/")
    test_answer = None

    assert run.status == Run.Status.FAILED
    assert "holds characters HTTP does not allow" in run.error
    assert_nowhere(stored_text())
    assert_nowhere(caplog.text)
    assert_nowhere(check.content.decode())
    assert test_answer is None


def test_the_connection_test_answer_never_carries_the_secret(local_upstream, editor_client, db) -> None:
    connector = Connector.objects.create(name="Legacy", base_url=local_upstream.url, auth_type="basic")
    connector.username = "shop"
    connector.set_secrets({"password": CANARY})
    connector.save()
    answer = editor_client.post(f"/api/connectors/{connector.pk}/test/", {}, format="json")
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert BASIC in local_upstream.wire_text()  # the upstream did get (and echo) the credentials
    assert_nowhere(answer.content.decode())
    assert_nowhere(json.dumps(answer.json()))


def test_the_connection_test_of_a_broken_token_says_what_is_wrong_without_it(
    local_upstream, editor_client, db
) -> None:
    connector = Connector.objects.create(name="Legacy", base_url=local_upstream.url, auth_type="bearer")
    connector.set_secrets({"token": f"{CANARY}\n"})
    connector.save()
    answer = editor_client.post(f"/api/connectors/{connector.pk}/test/", {}, format="json")
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert "holds characters HTTP does not allow" in answer.json()["error"]
    assert_nowhere(answer.content.decode())
