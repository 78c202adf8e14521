"""Demo content: `load_demo` creates what is missing, follows the server's address, never overwrites what a
user changed, and the demo flows run against the demo API that Patchbay serves, on whatever port."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import httpx
import pytest
from django.core.management import CommandError, call_command

from demo.api import session
from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.services import save_draft, update_connector, update_endpoint
from runs import services
from runs.executors.embedded import EmbeddedExecutor
from runs.models import LogLine, Run
from scripts_app.models import Script, ScriptVersion
from scripts_app.services import create_script, update_script

pytestmark = pytest.mark.usefixtures("demo_on")


def counts() -> dict[str, int]:
    return {
        "connectors": Connector.objects.count(),
        "endpoints": Endpoint.objects.count(),
        "scripts": Script.objects.count(),
        "script_versions": ScriptVersion.objects.count(),
        "flows": Flow.objects.count(),
        "flow_versions": FlowVersion.objects.count(),
    }


def load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def deployed_versions() -> dict[str, int | None]:
    return dict(
        FlowVersion.objects.filter(status="deployed")
        .values_list("flow__name", "number")
        .order_by("flow__name")
    )


@pytest.mark.django_db
def test_loading_the_demo_twice_creates_nothing_twice():
    load_demo()
    first = counts()
    output = load_demo()

    assert counts() == first
    assert first == {
        "connectors": 1,
        "endpoints": 4,
        "scripts": 2,
        "script_versions": 2,
        "flows": 2,
        "flow_versions": 4,  # per flow: the deployed version and the new draft
    }
    assert "Demo content is up to date." in output
    assert Connector.objects.get().base_url == "http://127.0.0.1:8000/demo-api/"


@pytest.mark.django_db
def test_the_connector_follows_the_port_and_host_the_server_uses_without_redeploying():
    load_demo()
    output = load_demo("--port", "8123")

    assert Connector.objects.get().base_url == "http://127.0.0.1:8123/demo-api/"
    assert "the demo connector calls http://127.0.0.1:8123/demo-api/" in output
    assert FlowVersion.objects.filter(status="deployed").count() == 2
    assert FlowVersion.objects.count() == 4

    # A server bound to every address is reached on the loopback one.
    load_demo("--host", "0.0.0.0", "--port", "9001")
    assert Connector.objects.get().base_url == "http://127.0.0.1:9001/demo-api/"
    load_demo("--base-url", "http://127.0.0.1:9999/demo-api")
    assert Connector.objects.get().base_url == "http://127.0.0.1:9999/demo-api/"


@pytest.mark.django_db
def test_a_base_url_the_user_changed_is_kept_when_the_demo_loads_again():
    load_demo()
    connector = Connector.objects.get()
    update_connector(connector=connector, base_url="http://shop.example.test/api/")

    output = load_demo("--port", "8123")

    connector.refresh_from_db()
    assert connector.base_url == "http://shop.example.test/api/"
    assert "kept your changes to connector 'Demo shop API'" in output
    # What nobody changed is still the demo's: the endpoints and flows are untouched by the kept connector.
    assert Endpoint.objects.filter(connector=connector).count() == 4


@pytest.mark.django_db
def test_an_edited_flow_draft_script_and_endpoint_are_kept_and_not_redeployed():
    load_demo()
    before = deployed_versions()
    flow = Flow.objects.get(name="Demo: session check")
    draft = FlowVersion.objects.get(flow=flow, status="draft")
    edited_graph = {
        **draft.graph,
        "shapes": [{**s, "name": f"My {s['name']}"} for s in draft.graph["shapes"]],
    }
    save_draft(flow=flow, graph=edited_graph)
    script = Script.objects.get(name="Demo: order status check")
    update_script(script=script, code=script.code.replace("retrying the run", "trying again"))
    endpoint = Endpoint.objects.get(name="Get order")
    update_endpoint(endpoint=endpoint, path="orders/[[variables.order_number]]?expand=lines")

    output = load_demo()

    assert FlowVersion.objects.get(flow=flow, status="draft").graph == edited_graph
    script.refresh_from_db()
    assert "trying again" in script.code
    assert ScriptVersion.objects.filter(script=script).count() == 1, "the user's draft is not deployed"
    endpoint.refresh_from_db()
    assert endpoint.path.endswith("?expand=lines")
    assert deployed_versions() == before
    for kept in (
        "flow 'Demo: session check'",
        "script 'Demo: order status check'",
        "endpoint 'Get order'",
    ):
        assert f"kept your changes to {kept}" in output


@pytest.mark.django_db
def test_deleted_demo_content_is_created_again():
    load_demo()
    Flow.objects.get(name="Demo: order status check").runs.all().delete()
    Flow.objects.get(name="Demo: order status check").delete()

    output = load_demo()

    assert "created flow 'Demo: order status check'" in output
    assert FlowVersion.objects.filter(flow__name="Demo: order status check", status="deployed").exists()


@pytest.mark.django_db
def test_a_users_object_with_a_demo_name_is_left_alone():
    mine = create_script(name="Demo: invalid session check", kind=Script.Kind.RESPONSE, code="")

    output = load_demo()

    mine.refresh_from_db()
    assert mine.code != "" and "Invalid session" not in mine.code  # still its template, not the demo's
    assert not ScriptVersion.objects.filter(script=mine).exists()
    assert "script 'Demo: invalid session check' exists and is not the demo's: left as it is" in output
    # The demo flow that calls it cannot be deployed with an undeployed script, and says so.
    assert "flow 'Demo: session check' is not deployed:" in output
    assert FlowVersion.objects.filter(flow__name="Demo: order status check", status="deployed").exists()


@pytest.mark.django_db
def test_a_connector_loaded_before_fingerprints_were_kept_follows_the_port():
    load_demo()
    # As a database loaded by an older load_demo: the demo's objects, but no record of them.
    from demo.models import DemoRecord

    DemoRecord.objects.all().delete()

    load_demo("--port", "8123")

    assert Connector.objects.get().base_url == "http://127.0.0.1:8123/demo-api/"
    assert counts()["flows"] == 2 and counts()["connectors"] == 1


@pytest.mark.django_db
def test_load_demo_refuses_while_the_demo_is_off(demo_off):
    with pytest.raises(CommandError, match="PATCHBAY_DEMO"):
        call_command("load_demo")
    assert "no demo content loaded" in load_demo("--skip-if-off")
    assert counts()["connectors"] == 0


@pytest.mark.django_db
def test_the_unauthenticated_demo_endpoints_are_absent_while_the_demo_is_off(demo_off, client):
    client.handler.enforce_csrf_checks = True
    for method, path in (
        ("get", "/demo-api/orders/"),
        ("get", "/demo-api/session/orders/3"),
        ("post", "/demo-api/session/refresh"),
        ("post", "/demo-api/session/reset"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert b'id="root"' not in response.content, "not the single-page app either"


@pytest.mark.django_db
def test_the_demo_endpoints_answer_while_the_demo_is_on(client):
    client.handler.enforce_csrf_checks = True
    assert client.get("/demo-api/orders/3").json()["status"] == "shipped"
    assert client.post("/demo-api/session/refresh").json() == {"session": "valid"}
    assert client.post("/demo-api/session/reset").json() == {"session": "invalid"}


@pytest.fixture
def demo(live_server):
    """Demo content loaded for the live server's address: a free port, never the default 8000."""
    address = urlsplit(live_server.url)
    assert address.port != 8000
    session.set(False)
    load_demo("--host", str(address.hostname), "--port", str(address.port))
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
def test_the_order_status_flow_runs_on_a_non_default_port(demo, settings):
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


@pytest.mark.django_db
def test_the_login_hint_names_the_address_the_server_uses(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("ensure_local_admin", "--host", "0.0.0.0", "--port", "8123", stdout=out)
    assert "Log in at http://127.0.0.1:8123/login/ as 'admin'" in out.getvalue()
    again = io.StringIO()
    call_command("ensure_local_admin", "--port", "8124", stdout=again)
    assert "Log in at http://127.0.0.1:8124/login/ as 'admin'" in again.getvalue()
