"""Failure alerts end to end: a failing run alerts a local webhook receiver, an email outbox and an Apprise
URL, at most once per interval; failing channels never block runs; the error flow gets the failed run."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from designer.models import Flow
from notifications.delivery import wait_for_deliveries
from notifications.models import AlertDelivery, FlowAlertSettings, NotificationChannel
from notifications.services import describe_failed_run, save_alert_settings, save_channel
from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Receiver:
    """A local HTTP server that records every POST and answers `status`."""

    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_alerts(settings) -> None:
    settings.PATCHBAY_ALERT_RETRY_DELAY = 0.01
    settings.PATCHBAY_ALERT_ATTEMPTS = 3
    settings.PATCHBAY_BASE_URL = "https://patchbay.example.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def failing_flow(make_flow, name: str = "Orders sync") -> Flow:
    return make_flow(
        [
            shape(
                "check",
                "assert",
                "Check order",
                conditions=[{"path": "ok", "operator": "equals", "value": True}],
                message="Order [[payload.id]] is not ok",
            )
        ],
        name=name,
    )


def fail_once(flow: Flow, order: int = 1) -> Run:
    run = run_once(
        services.enqueue_run(flow=flow, trigger="api", payload=json.dumps({"ok": False, "id": order}))
    )
    assert run.status == Run.Status.FAILED
    wait_for_deliveries()
    return run


def test_a_failure_alerts_the_webhook_once_per_interval_with_the_run_details(make_flow, receiver):
    flow = failing_flow(make_flow)
    channel = save_channel(
        name="Ops hook",
        kind="webhook",
        config={"url": f"{receiver.url}/alerts", "headers": {}},
        secret="s3cret",
    )
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["failed"], interval_minutes=30, error_flow=None
    )

    first = fail_once(flow, 1)
    fail_once(flow, 2)
    fail_once(flow, 3)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    alert = json.loads(request["body"])
    assert request["path"] == "/alerts"
    expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Patchbay-Signature"] == f"sha256={expected}"
    assert alert["flow"] == {"id": flow.pk, "name": "Orders sync"}
    assert (
        alert["run"]["id"] == first.pk
        and alert["run"]["url"] == f"https://patchbay.example.test/runs/{first.pk}"
    )
    assert alert["failed_step"]["name"] == "Check order"
    assert alert["failed_step"]["error"] == "Order 1 is not ok" and alert["error"] == "Order 1 is not ok"
    assert alert["outcome"] == "failed" and alert["suppressed"] == 0
    assert "Orders sync" in alert["text"] and f"/runs/{first.pk}" in alert["text"]
    assert FlowAlertSettings.objects.get(flow=flow).suppressed == 2

    # Once the interval has passed, the next failure alerts again and reports what was held back.
    FlowAlertSettings.objects.filter(flow=flow).update(
        last_alert_at=timezone.now() - datetime.timedelta(minutes=31)
    )
    fourth = fail_once(flow, 4)
    assert len(receiver.requests) == 2
    alert = json.loads(receiver.requests[1]["body"])
    assert alert["run"]["id"] == fourth.pk and alert["suppressed"] == 2
    assert "2 more alert(s) of this flow were held back" in alert["text"]
    delivery = AlertDelivery.objects.get(run=fourth)
    assert delivery.status == "sent" and delivery.attempts == 1


def test_an_email_alert_lands_in_the_outbox(make_flow):
    flow = failing_flow(make_flow, "Invoices")
    channel = save_channel(name="Ops mail", kind="email", config={"to": ["ops@example.test"]})
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["failed"], interval_minutes=0, error_flow=None
    )

    run = fail_once(flow, 9)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.test"]
    assert message.subject == f"Patchbay: flow 'Invoices' run {run.pk} failed"
    assert "Failed step: Check order (assert): Order 9 is not ok" in message.body
    assert f"https://patchbay.example.test/runs/{run.pk}" in message.body


def test_an_interval_of_zero_alerts_every_failure(make_flow):
    flow = failing_flow(make_flow)
    channel = save_channel(name="Every", kind="email", config={"to": ["ops@example.test"]})
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["failed"], interval_minutes=0, error_flow=None
    )
    fail_once(flow, 1)
    fail_once(flow, 2)
    assert len(mail.outbox) == 2


def test_an_apprise_url_reaches_the_receiver(make_flow, receiver):
    flow = failing_flow(make_flow, "Stock")
    port = receiver.url.rsplit(":", 1)[1]
    channel = save_channel(
        name="Apprise", kind="apprise", config={}, secret=f"json://127.0.0.1:{port}/apprise"
    )
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["failed"], interval_minutes=60, error_flow=None
    )

    run = fail_once(flow)

    assert [r["path"] for r in receiver.requests] == ["/apprise"]
    body = json.loads(receiver.requests[0]["body"])
    assert body["title"] == f"Patchbay: flow 'Stock' run {run.pk} failed"
    assert "Order 1 is not ok" in body["message"]
    assert AlertDelivery.objects.get(run=run).status == "sent"


def test_a_channel_that_keeps_failing_never_blocks_runs(make_flow, receiver):
    receiver.status = 500
    flow = failing_flow(make_flow)
    broken = save_channel(
        name="Broken", kind="webhook", config={"url": f"{receiver.url}/down", "headers": {}}
    )
    mailbox = save_channel(name="Mail", kind="email", config={"to": ["ops@example.test"]})
    save_alert_settings(
        flow=flow, channels=[broken, mailbox], outcomes=["failed"], interval_minutes=0, error_flow=None
    )

    run = fail_once(flow)
    # The next run of the flow is not held up by the failing channel either.
    later = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": true}'))
    wait_for_deliveries()

    assert later.status == Run.Status.SUCCEEDED
    failed = AlertDelivery.objects.get(run=run, channel=broken)
    assert failed.status == "failed" and failed.attempts == 3 and "HTTP 500" in failed.last_error
    assert len(receiver.requests) == 3  # delivery was retried
    assert AlertDelivery.objects.get(run=run, channel=mailbox).status == "sent" and len(mail.outbox) == 1


def test_outcomes_a_flow_did_not_choose_send_nothing(make_flow):
    flow = make_flow(
        [
            shape("try", "try_catch"),
            shape("check", "assert", conditions=[{"path": "ok", "operator": "equals", "value": True}]),
        ],
        connections=[
            {"source": "trigger", "target": "try"},
            {"source": "try", "target": "check", "label": "try"},
        ],
    )
    channel = save_channel(name="Mail", kind="email", config={"to": ["ops@example.test"]})
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["failed"], interval_minutes=0, error_flow=None
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}'))
    wait_for_deliveries()
    assert run.status == Run.Status.PARTIAL_SUCCESS and mail.outbox == []

    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["partial_success"], interval_minutes=0, error_flow=None
    )
    run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}'))
    wait_for_deliveries()
    assert len(mail.outbox) == 1 and "partial success" in mail.outbox[0].subject


def test_the_error_flow_runs_with_the_failed_runs_details(make_flow):
    handler = make_flow([], name="On failure")
    flow = failing_flow(make_flow, "Payments")
    save_alert_settings(flow=flow, channels=[], outcomes=["failed"], interval_minutes=60, error_flow=handler)

    failed = fail_once(flow, 5)

    error_run = Run.objects.get(flow=handler)
    assert error_run.parent_run_id == failed.pk and error_run.trigger == "run_flow"
    details = json.loads(error_run.input_payload)
    assert details["flow"] == {"id": flow.pk, "name": "Payments"}
    assert details["run"]["id"] == failed.pk and details["run"]["status"] == "failed"
    assert details["failed_step"] == {
        "id": "check",
        "name": "Check order",
        "type": "assert",
        "error": "Order 5 is not ok",
    }
    assert run_once(error_run).status == Run.Status.SUCCEEDED


def test_retries_exhausted_is_its_own_outcome(make_flow, make_connector, make_endpoint, settings):
    import httpx

    from connectors.client import use_transport

    settings.PATCHBAY_RETRY_DELAY = 0.01
    connector = make_connector()
    endpoint = make_endpoint(connector, path="/flaky")
    flow = make_flow(
        [shape("call", "connector", "Call", connector=connector.pk, endpoint=endpoint.pk, retries=1)]
    )
    channel = save_channel(name="Mail", kind="email", config={"to": ["ops@example.test"]})
    save_alert_settings(
        flow=flow, channels=[channel], outcomes=["retries_exhausted"], interval_minutes=0, error_flow=None
    )
    with use_transport(httpx.MockTransport(lambda request: httpx.Response(503))):
        run = services.enqueue_run(flow=flow, trigger="api")
        for _ in range(3):
            run = run_once(run)
            if run.is_terminal:
                break
    wait_for_deliveries()
    assert run.status == Run.Status.FAILED
    assert len(mail.outbox) == 1 and "retries exhausted" in mail.outbox[0].subject


def test_a_run_without_alert_settings_sends_nothing(make_flow):
    fail_once(failing_flow(make_flow))
    assert AlertDelivery.objects.count() == 0 and mail.outbox == []
    assert NotificationChannel.objects.count() == 0


def test_error_flows_that_name_each_other_do_not_loop(make_flow):
    first = failing_flow(make_flow, "First")
    second = failing_flow(make_flow, "Second")
    save_alert_settings(flow=first, channels=[], outcomes=["failed"], interval_minutes=0, error_flow=second)
    save_alert_settings(flow=second, channels=[], outcomes=["failed"], interval_minutes=0, error_flow=first)

    failed = fail_once(first)
    error_run = Run.objects.get(flow=second)
    assert error_run.parent_run_id == failed.pk
    # The error flow fails too (its input is not ok): no error flow of the error flow.
    assert run_once(error_run).status == Run.Status.FAILED
    wait_for_deliveries()
    assert Run.objects.filter(flow=first).count() == 1


def test_a_delivery_left_pending_by_a_dead_process_is_sent_again_once(make_flow):
    from notifications.delivery import redeliver_stale_alerts

    flow = failing_flow(make_flow)
    channel = save_channel(name="Mail", kind="email", config={"to": ["ops@example.test"]})
    run = fail_once(flow)
    # What a process that died mid-delivery leaves behind: a pending delivery held by nobody alive.
    orphan = AlertDelivery.objects.create(
        channel=channel,
        flow=flow,
        run=run,
        outcome="failed",
        alert=describe_failed_run(run, "failed"),
        claim_token="thread:dead",
        claimed_until=timezone.now() - datetime.timedelta(seconds=1),
    )
    held = AlertDelivery.objects.create(
        channel=channel,
        flow=flow,
        run=run,
        outcome="failed",
        alert=orphan.alert,
        claim_token="thread:alive",
        claimed_until=timezone.now() + datetime.timedelta(minutes=5),
    )

    assert redeliver_stale_alerts() == 1
    wait_for_deliveries()
    assert redeliver_stale_alerts() == 0

    orphan.refresh_from_db()
    held.refresh_from_db()
    assert orphan.status == "sent" and orphan.attempts == 1 and len(mail.outbox) == 1
    assert held.status == "pending" and held.attempts == 0  # its holder is still at it


def test_the_embedded_executors_sweep_sends_orphaned_deliveries_with_no_run_finishing(make_flow, monkeypatch):
    """A server whose flows are idle still heals the alerts a dead process left pending: the embedded
    executor's periodic sweep re-dispatches them (at most once per REDELIVER_EVERY per process)."""
    from notifications import delivery
    from runs.executors.embedded import EmbeddedExecutor

    flow = failing_flow(make_flow)
    channel = save_channel(name="Mail", kind="email", config={"to": ["ops@example.test"]})
    run = fail_once(flow)
    wait_for_deliveries()
    orphan = AlertDelivery.objects.create(
        channel=channel,
        flow=flow,
        run=run,
        outcome="failed",
        alert=describe_failed_run(run, "failed"),
        claim_token="thread:dead",
        claimed_until=timezone.now() - datetime.timedelta(seconds=1),
    )
    monkeypatch.setattr(delivery, "_last_redeliver", float("-inf"))
    sent_before = len(mail.outbox)

    EmbeddedExecutor(workers=1).sweep_once()
    wait_for_deliveries()

    orphan.refresh_from_db()
    assert orphan.status == "sent" and orphan.attempts == 1
    assert len(mail.outbox) == sent_before + 1
