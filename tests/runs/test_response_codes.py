"""Response scripts decide per response (DESIGN section 5): codes 0-4 end to end."""

from __future__ import annotations

import json

import httpx
import pytest
from django.utils import timezone

from runs import services
from runs.models import Attempt, LogLine, Run, Step
from scripts_app.models import Script
from tests.runs.conftest import drive, run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")

JUDGE = """
import json

def handle(data):
    response = data["response"]
    body = response["body"]
    if "Invalid session" in body:
        data["response_code"] = 2
        data["message"] = "Invalid session"
    elif response["status"] == 409:
        data["response_code"] = 3
        data["message"] = "Order is locked: " + body
    elif response["status"] == 503:
        data["response_code"] = 1
        data["message"] = "Upstream busy, try again"
    elif response["status"] == 401:
        data["response_code"] = 4
        data["message"] = "Token rejected"
    elif "keep-body" in body:
        data["message"] = "Body kept"
    else:
        order = json.loads(body)
        data["payload"] = json.dumps({"number": order["number"], "seen_status": response["status"]})
        data["meta"]["checked"] = "yes"
        data["message"] = "Order " + str(order["number"]) + " checked"
    return data
"""


@pytest.fixture
def judged_flow(make_flow, make_connector, make_endpoint, make_script):
    def factory(*, retries: int = 0, max_run_retries: int = 0, connector_fields: dict | None = None):
        script = make_script(JUDGE, kind=Script.Kind.RESPONSE)
        connector = make_connector(base_url="https://shop.example.test", **(connector_fields or {}))
        endpoint = make_endpoint(connector, path="/orders/1")
        return make_flow(
            [
                shape(
                    "get",
                    "connector",
                    "Get order",
                    connector=connector.pk,
                    endpoint=endpoint.pk,
                    retries=retries,
                    response_script=script.pk,
                )
            ],
            max_run_retries=max_run_retries,
        )

    return factory


def messages(run: Run, level: str) -> list[str]:
    return list(run.log_lines.filter(level=level).values_list("message", flat=True))


def test_code_0_continues_with_the_scripts_payload_and_logs_the_message_as_info(judged_flow, upstream):
    upstream.add("GET /orders/1", {"number": 1001})
    run = run_once(services.enqueue_run(flow=judged_flow(), trigger="api", payload="{}"))

    assert run.status == Run.Status.SUCCEEDED
    assert json.loads(run.final_payload) == {"number": 1001, "seen_status": 200}
    output = run.steps.get(shape_id="get").payloads.get(direction="output")
    assert output.meta["checked"] == "yes" and output.meta["http_status"] == "200"
    assert "Order 1001 checked" in messages(run, LogLine.Level.INFO)
    attempt = Attempt.objects.get(step__run=run)
    assert (
        attempt.response_code == 0
        and attempt.outcome == "continue"
        and attempt.message == "Order 1001 checked"
    )


def test_code_0_with_an_unchanged_payload_passes_the_response_body_on(judged_flow, upstream):
    upstream.add("GET /orders/1", httpx.Response(200, text="keep-body please"))
    run = run_once(services.enqueue_run(flow=judged_flow(), trigger="api", payload="input"))
    assert run.final_payload == "keep-body please"
    assert "Body kept" in messages(run, LogLine.Level.INFO)


def test_code_1_retries_the_step_after_a_backoff_and_then_continues(judged_flow, upstream, settings):
    settings.PATCHBAY_RETRY_DELAY = 30.0
    upstream.add("GET /orders/1", httpx.Response(503), httpx.Response(503), {"number": 7})
    run = run_once(services.enqueue_run(flow=judged_flow(retries=2), trigger="api", payload="{}"))

    assert run.status == Run.Status.QUEUED and run.available_at > timezone.now()
    step = run.steps.get(shape_id="get")
    assert step.status == Step.Status.RETRYING
    assert "Upstream busy, try again" in messages(run, LogLine.Level.WARNING)

    run = drive(run)
    assert run.status == Run.Status.SUCCEEDED
    step.refresh_from_db()
    assert step.attempts == 3 and step.status == Step.Status.SUCCEEDED
    assert list(Attempt.objects.filter(step=step).values_list("response_code", flat=True)) == [1, 1, 0]


def test_code_1_fails_the_run_when_the_steps_retries_are_exhausted(judged_flow, upstream):
    upstream.add("GET /orders/1", httpx.Response(503))
    run = drive(services.enqueue_run(flow=judged_flow(retries=1), trigger="api", payload="{}"))

    assert run.status == Run.Status.FAILED
    step = run.steps.get(shape_id="get")
    assert step.attempts == 2 and step.status == Step.Status.FAILED
    assert "Upstream busy, try again" in run.error
    assert not Run.objects.filter(retry_of=run).exists()


def test_code_2_fails_the_run_and_queues_a_linked_attempt_until_max_run_retries(
    judged_flow, upstream, settings
):
    settings.PATCHBAY_RETRY_DELAY = 30.0
    upstream.add("GET /orders/1", httpx.Response(200, text='{"error": "Invalid session"}'))
    flow = judged_flow(max_run_retries=1)
    first = run_once(services.enqueue_run(flow=flow, trigger="webhook", payload='{"id": 1}'))

    assert first.status == Run.Status.FAILED
    assert first.steps.get(shape_id="get").status == Step.Status.FAILED
    assert "Invalid session" in messages(first, LogLine.Level.WARNING)
    second = Run.objects.get(retry_of=first)
    assert second.attempt == 2 and second.status == Run.Status.QUEUED
    assert second.flow_version_id == first.flow_version_id and second.input_payload == '{"id": 1}'
    assert second.available_at > timezone.now(), "the next attempt waits for a backoff"
    assert any("queued as run" in m for m in messages(first, LogLine.Level.WARNING))

    second = run_once(second)
    assert second.status == Run.Status.FAILED
    assert not Run.objects.filter(retry_of=second).exists()
    assert any("No run retries left" in m for m in messages(second, LogLine.Level.ERROR))
    assert Run.objects.filter(flow=flow).count() == 2


def test_code_2_is_not_caught_by_try_catch(make_flow, make_connector, make_endpoint, make_script, upstream):
    script = make_script(JUDGE, kind=Script.Kind.RESPONSE)
    connector = make_connector(base_url="https://shop.example.test")
    endpoint = make_endpoint(connector, path="/orders/1")
    flow = make_flow(
        [
            shape("try", "try_catch"),
            shape(
                "get", "connector", connector=connector.pk, endpoint=endpoint.pk, response_script=script.pk
            ),
            shape("caught", "notify", message="caught"),
        ],
        [
            {"source": "trigger", "target": "try"},
            {"source": "try", "target": "get", "label": "try"},
            {"source": "try", "target": "caught", "label": "catch"},
        ],
    )
    upstream.add("GET /orders/1", httpx.Response(200, text="Invalid session"))
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="{}"))
    assert run.status == Run.Status.FAILED
    assert not run.steps.filter(shape_id="caught").exists()


def test_code_3_fails_the_run_for_good_with_the_message_as_an_error(judged_flow, upstream):
    upstream.add("GET /orders/1", httpx.Response(409, text="locked by ERP"))
    run = run_once(
        services.enqueue_run(flow=judged_flow(retries=3, max_run_retries=3), trigger="api", payload="{}")
    )

    assert run.status == Run.Status.FAILED
    assert run.error == "Order is locked: locked by ERP"
    assert "Order is locked: locked by ERP" in messages(run, LogLine.Level.ERROR)
    assert run.steps.get(shape_id="get").attempts == 1
    assert not Run.objects.filter(retry_of=run).exists()


def test_code_4_reauthenticates_and_retries_the_request_once_at_once(judged_flow, upstream):
    tokens = ["old-token-value", "new-token-value"]
    upstream.add("POST /token", lambda r: httpx.Response(200, json={"access_token": tokens.pop(0)}))
    upstream.add(
        "GET /orders/1",
        lambda r: (
            httpx.Response(401)
            if r.headers["authorization"] == "Bearer old-token-value"
            else httpx.Response(200, json={"number": 5})
        ),
    )
    flow = judged_flow(
        connector_fields={
            "auth_type": "oauth2_client_credentials",
            "token_url": "https://shop.example.test/token",
            "client_id": "pb",
            "secrets": {"client_secret": "cs-secret"},
        }
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="{}"))

    assert run.status == Run.Status.SUCCEEDED
    assert json.loads(run.final_payload)["number"] == 5
    step = run.steps.get(shape_id="get")
    assert step.attempts == 1
    assert list(Attempt.objects.filter(step=step).values_list("response_code", "outcome")) == [
        (4, "reauthenticate"),
        (0, "continue"),
    ]
    assert "Token rejected" in messages(run, LogLine.Level.WARNING)
    assert len(upstream.calls("POST /token")) == 2


def test_a_failing_response_script_fails_the_step_naming_script_and_line(
    make_flow, make_connector, make_endpoint, make_script, upstream
):
    script = make_script(
        "def handle(data):\n    return 1 / 0\n", kind=Script.Kind.RESPONSE, name="Broken judge"
    )
    connector = make_connector(base_url="https://shop.example.test")
    endpoint = make_endpoint(connector, path="/orders/1")
    flow = make_flow(
        [shape("get", "connector", connector=connector.pk, endpoint=endpoint.pk, response_script=script.pk)]
    )
    upstream.add("GET /orders/1", {"number": 1})
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="{}"))

    assert run.status == Run.Status.FAILED
    assert "Broken judge" in run.error and "v1" in run.error and "line 2" in run.error
    assert Attempt.objects.get(step__run=run).outcome == "script_error"


def test_a_transport_error_never_reaches_the_response_script(judged_flow, upstream):
    upstream.add("GET /orders/1", httpx.ReadTimeout("slow"), {"number": 9})
    run = drive(services.enqueue_run(flow=judged_flow(retries=1), trigger="api", payload="{}"))
    assert run.status == Run.Status.SUCCEEDED
    attempts = list(Attempt.objects.filter(step__run=run).values_list("outcome", "response_code"))
    assert attempts == [("transport_error", None), ("continue", 0)]
