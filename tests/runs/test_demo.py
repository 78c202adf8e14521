"""Demo content: `load_demo` is idempotent, and the demo flows run against the demo API served by Patchbay."""

from __future__ import annotations

import httpx
import pytest
from django.core.management import call_command

from designer.models import Connector, Endpoint, Flow, FlowVersion
from runs import services
from runs.demo.api import session
from runs.executors.embedded import EmbeddedExecutor
from runs.models import LogLine, Run
from scripts_app.models import Script, ScriptVersion


def counts() -> dict[str, int]:
    return {
        "connectors": Connector.objects.count(),
        "endpoints": Endpoint.objects.count(),
        "scripts": Script.objects.count(),
        "script_versions": ScriptVersion.objects.count(),
        "flows": Flow.objects.count(),
        "flow_versions": FlowVersion.objects.count(),
    }


@pytest.mark.django_db
def test_loading_the_demo_twice_creates_nothing_twice(capsys):
    call_command("load_demo")
    first = counts()
    call_command("load_demo")

    assert counts() == first
    assert first == {
        "connectors": 1,
        "endpoints": 4,
        "scripts": 2,
        "script_versions": 2,
        "flows": 2,
        "flow_versions": 4,  # per flow: the deployed version and the new draft
    }
    assert "Demo content is up to date." in capsys.readouterr().out
    assert Connector.objects.get().base_url == "http://127.0.0.1:8000/demo-api/"


@pytest.mark.django_db
def test_a_new_base_url_updates_the_connector_without_redeploying():
    call_command("load_demo")
    call_command("load_demo", "--base-url", "http://127.0.0.1:9999/demo-api")

    assert Connector.objects.get().base_url == "http://127.0.0.1:9999/demo-api/"
    assert FlowVersion.objects.filter(status="deployed").count() == 2
    assert FlowVersion.objects.count() == 4


@pytest.fixture
def demo(live_server):
    session.set(False)
    call_command("load_demo", "--base-url", f"{live_server.url}/demo-api/")
    yield {flow.name: flow for flow in Flow.objects.all()}
    session.set(False)


def execute_all_due() -> None:
    executor = EmbeddedExecutor(workers=1)
    while executor.run_once("demo-test-worker"):
        pass


@pytest.mark.django_db(transaction=True)
def test_the_demo_api_serves_orders_and_a_session_that_needs_refreshing(live_server):
    session.set(False)
    base = f"{live_server.url}/demo-api"

    assert httpx.get(f"{base}/orders/3").json()["status"] == "shipped"
    assert len(httpx.get(f"{base}/orders/").json()["orders"]) == 12
    assert httpx.get(f"{base}/orders/99").status_code == 404
    stale = httpx.get(f"{base}/session/orders/3")
    assert stale.status_code == 200
    assert "Invalid session" in stale.text
    assert httpx.post(f"{base}/session/refresh").status_code == 200
    assert httpx.get(f"{base}/session/orders/3").json()["number"] == 3
    session.set(False)


@pytest.mark.django_db(transaction=True)
def test_the_order_status_flow_succeeds_for_a_shipped_order_and_retries_a_processing_one(demo, settings):
    settings.PATCHBAY_RETRY_DELAY = 0.0
    flow = demo["Demo: order status check"]

    shipped = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, variables={"order_number": "3"})
    processing = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, variables={"order_number": "2"})
    execute_all_due()

    shipped.refresh_from_db()
    assert shipped.status == "succeeded", shipped.error
    assert LogLine.objects.filter(run=shipped, message__contains="Order 3 is shipped").exists()
    processing.refresh_from_db()
    assert processing.status == "failed"
    attempts = Run.objects.filter(flow=flow, variables__order_number="2").order_by("attempt")
    # max_run_retries 2: the first run and two retries, each linked to the one before.
    assert [run.attempt for run in attempts] == [1, 2, 3]
    assert [run.status for run in attempts] == ["failed"] * 3
    assert attempts[1].retry_of_id == attempts[0].pk
    assert LogLine.objects.filter(
        run=processing, level="warning", message__contains="Order 2 is still processing; retrying the run"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_the_session_flow_retries_until_the_session_is_refreshed(demo, settings, live_server):
    settings.PATCHBAY_RETRY_DELAY = 0.0
    flow = demo["Demo: session check"]
    executor = EmbeddedExecutor(workers=1)

    first = services.enqueue_run(flow=flow, trigger=Run.Trigger.API)
    assert executor.run_once("demo-test-worker")
    first.refresh_from_db()
    assert first.status == "failed"
    assert LogLine.objects.filter(run=first, level="warning", message__contains="Invalid session").exists()

    httpx.post(f"{live_server.url}/demo-api/session/refresh")
    execute_all_due()

    retry = Run.objects.get(retry_of=first)
    assert retry.status == "succeeded", retry.error
    assert retry.attempt == 2
