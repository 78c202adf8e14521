"""`/hooks/{key}/` through the ASGI application (config.asgi), which serves it before Django's middleware
stack: the same contract as through Django (DESIGN sections 6 and 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.test import Client

from config.asgi import application
from runs.executors.embedded import EmbeddedExecutor
from runs.models import Run
from tests.runs.test_webhooks import webhook_flow

pytestmark = pytest.mark.django_db(transaction=True)


async def call(
    method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    communicator = HttpCommunicator(
        application, method, path, body=body, headers=headers or [(b"host", b"localhost")]
    )
    try:
        return await communicator.get_response(timeout=30)
    finally:
        await communicator.wait()


async def database(function: Any) -> Any:
    return await sync_to_async(function, thread_sensitive=True)()


def header(response: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode()
    return next((value.decode() for key, value in response["headers"] if key.lower() == wanted), None)


async def test_a_post_starts_a_run_with_the_default_reply_and_the_middlewares_headers():
    flow = await database(webhook_flow)
    response = await call(
        "POST",
        flow.webhook_path,
        b'{"order_id": 5}',
        [(b"host", b"localhost"), (b"content-type", b"application/json"), (b"x-shop", b"north")],
    )

    assert response["status"] == 200
    body = json.loads(response["body"])
    assert body["message"] == "Flow initialised."
    run = await database(lambda: Run.objects.get(pk=body["run"]))
    assert run.trigger == Run.Trigger.WEBHOOK and run.input_payload == '{"order_id": 5}'
    assert run.input_meta["http_method"] == "POST" and run.input_meta["header_x_shop"] == "north"
    assert header(response, "X-Patchbay-Run") == str(run.pk)
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Content-Length") == str(len(response["body"]))
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "X-Frame-Options") == "DENY"


async def test_refusals_answer_as_through_django():
    disabled = await database(lambda: webhook_flow("Off"))
    await database(lambda: type(disabled).objects.filter(pk=disabled.pk).update(enabled=False))

    unknown = await call("POST", "/hooks/no-such-key/", b"{}")
    off = await call("POST", disabled.webhook_path, b"{}")
    wrong_method = await call("DELETE", disabled.webhook_path)
    through_django = await database(
        lambda: Client().post("/hooks/no-such-key/", data="{}", content_type="text/plain")
    )

    assert unknown["status"] == 404 and json.loads(unknown["body"]) == json.loads(through_django.content)
    assert off["status"] == 409 and "disabled" in json.loads(off["body"])["detail"]
    assert wrong_method["status"] == 405


async def test_a_host_outside_allowed_hosts_is_refused_with_400():
    flow = await database(webhook_flow)
    response = await call("POST", flow.webhook_path, b"{}", [(b"host", b"evil.example")])

    assert response["status"] == 400
    assert await database(lambda: Run.objects.count()) == 0


async def test_final_payload_mode_answers_when_the_run_ends_in_this_process():
    flow = await database(lambda: webhook_flow("Sync", response={"mode": "final_payload", "timeout": 20}))
    executor = EmbeddedExecutor(workers=1, poll_interval=5.0, sweep_interval=5.0)
    executor.start()
    try:
        response = await call("POST", flow.webhook_path, b'{"order_id": 8}')
    finally:
        await database(lambda: executor.stop(timeout=30))

    assert response["status"] == 200
    assert json.loads(response["body"]) == {"order_id": 8}
    run = await database(lambda: Run.objects.get())
    assert run.status == Run.Status.SUCCEEDED and header(response, "X-Patchbay-Run") == str(run.pk)
