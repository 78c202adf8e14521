"""Connector shape without a response script: 2xx continues, 408 / 429 / 5xx / transport errors retry the
step, anything else fails the run; every request is an Attempt row and a run log line."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.utils import timezone

from runs import services
from runs.models import Attempt, LogLine, Run, Step
from tests.runs.conftest import drive, run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def order_flow(make_flow, make_connector, make_endpoint):
    def factory(
        *,
        retries: int = 0,
        retry_delay: float | None = None,
        endpoint_fields: dict | None = None,
        **shape_settings,
    ):
        connector = make_connector(base_url="https://shop.example.test/api")
        endpoint = make_endpoint(connector, path="/orders/[[variables.order_id]]", **(endpoint_fields or {}))
        settings = {
            "connector": connector.pk,
            "endpoint": endpoint.pk,
            "variables": {"order_id": "[[payload.order_id]]"},
            "retries": retries,
            **shape_settings,
        }
        if retry_delay is not None:
            settings["retry_delay"] = retry_delay
        return make_flow([shape("get-order", "connector", "Get order", **settings)])

    return factory


def start(flow, payload: str = '{"order_id": 7}') -> Run:
    return services.enqueue_run(flow=flow, trigger="api", payload=payload)


def test_a_2xx_response_continues_with_the_body_and_http_status_meta(order_flow, upstream):
    upstream.add("GET /api/orders/7", {"order": 7, "status": "paid"})
    run = run_once(start(order_flow()))

    assert run.status == Run.Status.SUCCEEDED
    assert json.loads(run.final_payload) == {"order": 7, "status": "paid"}
    step = run.steps.get(shape_id="get-order")
    assert step.http_status == 200 and step.attempts == 1
    output = step.payloads.get(direction="output")
    assert output.meta["http_status"] == "200"
    attempt = Attempt.objects.get(step=step)
    assert attempt.outcome == "continue" and attempt.http_status == 200
    assert attempt.request["url"] == "https://shop.example.test/api/orders/7"
    assert run.log_lines.filter(
        message__contains="GET https://shop.example.test/api/orders/7 -> HTTP 200"
    ).exists()
    assert run.insights["http_calls"] == 1 and run.insights["bytes_in"] > 0


def test_a_404_fails_the_run_without_retrying(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.Response(404, json={"error": "no such order"}))
    run = run_once(start(order_flow(retries=3)))

    assert run.status == Run.Status.FAILED
    step = run.steps.get(shape_id="get-order")
    assert step.status == Step.Status.FAILED and step.attempts == 1 and step.http_status == 404
    assert "HTTP 404" in run.error
    assert len(upstream.calls("GET /api/orders/7")) == 1


def test_a_500_retries_the_step_after_a_backoff_then_fails_when_retries_are_exhausted(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.Response(500, text="boom"))
    run = run_once(start(order_flow(retries=2, retry_delay=4)))

    # The step waits for its retry: the run is back in the queue until the step's next attempt.
    assert run.status == Run.Status.QUEUED
    step = run.steps.get(shape_id="get-order")
    assert step.status == Step.Status.RETRYING and step.attempts == 1
    wait = (run.available_at - timezone.now()).total_seconds()
    assert 3 < wait <= 4 * 1.25
    assert step.next_attempt_at == run.available_at
    assert [i.data["shape"] for i in run.work_items.all()] == ["get-order"], "the pending retry is kept"

    run = run_once(run)
    assert run.status == Run.Status.QUEUED
    wait = (run.available_at - timezone.now()).total_seconds()
    assert 7 < wait <= 8 * 1.25, "the second wait doubles"

    run = run_once(run)
    assert run.status == Run.Status.FAILED
    step.refresh_from_db()
    assert step.status == Step.Status.FAILED and step.attempts == 3
    assert "gave up after 3 attempt(s)" in step.error
    assert Attempt.objects.filter(step=step).count() == 3
    assert run.log_lines.filter(level=LogLine.Level.WARNING, message__contains="retrying in").count() == 2


def test_a_500_then_200_succeeds_on_the_retry_with_one_step_record(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.Response(503), {"order": 7})
    run = drive(start(order_flow(retries=1)))

    assert run.status == Run.Status.SUCCEEDED
    step = run.steps.get(shape_id="get-order")
    assert step.attempts == 2 and step.status == Step.Status.SUCCEEDED
    assert list(Attempt.objects.filter(step=step).values_list("number", "http_status")) == [
        (1, 503),
        (2, 200),
    ]


def test_a_429_honours_retry_after_in_seconds(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.Response(429, headers={"Retry-After": "120"}), {"order": 7})
    run = run_once(start(order_flow(retries=1)))

    assert run.status == Run.Status.QUEUED
    wait = (run.available_at - timezone.now()).total_seconds()
    assert 115 < wait <= 120
    assert drive(run).status == Run.Status.SUCCEEDED


def test_a_429_honours_retry_after_as_an_http_date(order_flow, upstream):
    when = timezone.now() + timedelta(seconds=50)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    upstream.add("GET /api/orders/7", httpx.Response(429, headers={"Retry-After": header}))
    run = run_once(start(order_flow(retries=1)))

    wait = (run.available_at - timezone.now()).total_seconds()
    assert 45 < wait <= 51


def test_stopping_a_run_that_waits_for_a_step_retry_stops_it_and_the_step(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.Response(502))
    run = run_once(start(order_flow(retries=3)))
    assert run.status == Run.Status.QUEUED

    stopped = services.stop_run(run=run)

    assert stopped.status == Run.Status.STOPPED
    assert stopped.steps.get(shape_id="get-order").status == Step.Status.STOPPED
    assert not stopped.work_items.exists()
    assert services.claim_run(run_id=run.pk, worker_id="w") is None


def test_a_connection_error_retries_the_step(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.ConnectError("connection refused"), {"order": 7})
    run = run_once(start(order_flow(retries=1)))

    assert run.status == Run.Status.QUEUED
    attempt = Attempt.objects.get(step__run=run)
    assert attempt.outcome == "transport_error" and attempt.response is None
    assert "ConnectError" in attempt.message
    assert drive(run).status == Run.Status.SUCCEEDED


def test_a_reset_connection_without_retries_fails_the_run(order_flow, upstream):
    upstream.add("GET /api/orders/7", httpx.RemoteProtocolError("peer closed connection"))
    run = run_once(start(order_flow(retries=0)))
    assert run.status == Run.Status.FAILED
    assert "RemoteProtocolError" in run.error


def test_a_garbage_body_passes_through_and_a_json_shape_after_it_fails_clearly(
    make_flow, make_connector, make_endpoint, upstream
):
    connector = make_connector(base_url="https://shop.example.test")
    endpoint = make_endpoint(connector, path="/garbage")
    flow = make_flow(
        [
            shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk),
            shape("pick", "map", mappings=[{"source": "id", "target": "id"}]),
        ]
    )
    upstream.add("GET /garbage", httpx.Response(200, content=b"\xff\xfe<<not json>>\x00"))
    run = run_once(start(flow))

    assert run.status == Run.Status.FAILED
    assert run.steps.get(shape_id="call").status == Step.Status.SUCCEEDED
    assert "needs a JSON payload" in run.steps.get(shape_id="pick").error


def test_an_oversized_response_fails_the_step_naming_the_limit(order_flow, upstream, settings):
    settings.PATCHBAY_MAX_PAYLOAD_BYTES = 2048
    upstream.add("GET /api/orders/7", httpx.Response(200, text="z" * 5000))
    run = run_once(start(order_flow(retries=3)))

    assert run.status == Run.Status.FAILED
    assert "exceeds the limit of 2048 bytes" in run.error


def test_a_post_without_body_template_sends_the_payload(make_flow, make_connector, make_endpoint, upstream):
    connector = make_connector(base_url="https://erp.example.test", default_headers={"X-Tenant": "t1"})
    endpoint = make_endpoint(connector, method="POST", path="/orders", headers={"X-Order": "[[payload.id]]"})
    flow = make_flow([shape("post", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    upstream.add("POST /orders", httpx.Response(201, json={"created": True}))

    run = run_once(start(flow, payload='{"id": "A-1"}'))

    assert run.status == Run.Status.SUCCEEDED
    sent = upstream.calls("POST /orders")[0]
    assert sent.content == b'{"id": "A-1"}'
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-tenant"] == "t1" and sent.headers["x-order"] == "A-1"


@pytest.mark.parametrize(
    ("body_format", "template", "expected_body", "content_type"),
    [
        (
            "json",
            '{"ref": "[[payload.id]]", "n": [[variables.n]]}',
            b'{"ref": "A-1", "n": 3}',
            "application/json",
        ),
        (
            "form",
            '{"ref": "[[payload.id]]", "n": "[[variables.n]]"}',
            b"ref=A-1&n=3",
            "application/x-www-form-urlencoded",
        ),
        (
            "xml",
            "<order><ref>[[payload.id]]</ref></order>",
            b"<order><ref>A-1</ref></order>",
            "application/xml",
        ),
        ("raw", "ref=[[payload.id]];n=[[variables.n]]", b"ref=A-1;n=3", "text/plain; charset=utf-8"),
    ],
)
def test_body_templates_render_in_every_format(
    make_flow, make_connector, make_endpoint, upstream, body_format, template, expected_body, content_type
):
    connector = make_connector(base_url="https://erp.example.test")
    endpoint = make_endpoint(
        connector,
        method="PUT",
        path="/orders/[[payload.id]]",
        query={"mode": "[[flow.variables.mode]]"},
        body_template=template,
        body_format=body_format,
    )
    flow = make_flow(
        [shape("put", "connector", connector=connector.pk, endpoint=endpoint.pk, variables={"n": "3"})],
        variables={"mode": "full"},
    )
    upstream.add("PUT /orders/A-1", httpx.Response(200, text="ok"))

    run = run_once(start(flow, payload='{"id": "A-1"}'))

    assert run.status == Run.Status.SUCCEEDED, run.error
    sent = upstream.calls("PUT /orders/A-1")[0]
    assert sent.content == expected_body
    assert sent.headers["content-type"] == content_type
    assert sent.url.params["mode"] == "full"


class _StallingHandler(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        # Headers go out, the body never comes before the client's read timeout.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.release.wait(10)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def stalling_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _StallingHandler.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        _StallingHandler.release.clear()


def test_a_read_timeout_of_a_stalling_server_retries_then_fails(
    make_flow, make_connector, make_endpoint, stalling_server
):
    connector = make_connector(base_url=stalling_server, timeout=5)
    endpoint = make_endpoint(connector, path="/slow")
    flow = make_flow(
        [shape("slow", "connector", connector=connector.pk, endpoint=endpoint.pk, timeout=0.3, retries=1)]
    )

    run = run_once(start(flow))
    assert run.status == Run.Status.QUEUED
    attempt = Attempt.objects.get(step__run=run)
    assert attempt.outcome == "transport_error" and "Timed out" in attempt.message

    run = run_once(run)
    assert run.status == Run.Status.FAILED
    assert "Timed out" in run.error
    assert Attempt.objects.filter(step__run=run).count() == 2


def test_a_refused_connection_to_a_real_port_is_a_transport_error(make_flow, make_connector, make_endpoint):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = make_connector(base_url=f"http://127.0.0.1:{port}")
    endpoint = make_endpoint(connector, path="/x")
    flow = make_flow([shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    run = run_once(start(flow))
    assert run.status == Run.Status.FAILED and "ConnectError" in run.error


class _DrippingHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # Each byte arrives well within the read timeout, but the body never ends in time.
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        return


def test_an_upstream_that_drips_its_body_is_cut_off_and_retried(make_flow, make_connector, make_endpoint):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DrippingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connector = make_connector(base_url=f"http://127.0.0.1:{server.server_address[1]}")
        endpoint = make_endpoint(connector, path="/drip")
        flow = make_flow(
            [shape("drip", "connector", connector=connector.pk, endpoint=endpoint.pk, timeout=0.4, retries=1)]
        )
        run = run_once(start(flow))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

    assert run.status == Run.Status.QUEUED
    attempt = Attempt.objects.get(step__run=run)
    assert attempt.outcome == "transport_error" and "did not arrive within" in attempt.message
