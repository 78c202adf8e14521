"""How the connector shape builds requests: variables, the endpoint's pre-request script, timeouts."""

from __future__ import annotations

import pytest

from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


def test_a_pre_request_script_can_set_variables_and_the_body(
    make_flow, make_connector, make_endpoint, make_script, upstream
):
    script = make_script(
        "import hashlib, json\n"
        "def handle(data):\n"
        "    order = json.loads(data['payload'])\n"
        "    data['variables']['signature'] = hashlib.sha256(data['payload'].encode()).hexdigest()[:8]\n"
        "    data['payload'] = json.dumps({'ref': order['id'], 'qty': order['qty']})\n"
        "    return data\n"
    )
    connector = make_connector(base_url="https://erp.example.test")
    endpoint = make_endpoint(
        connector,
        method="POST",
        path="/orders/[[variables.id]]",
        headers={"X-Signature": "[[variables.signature]]"},
        pre_request_script=script,
    )
    flow = make_flow(
        [
            shape(
                "post",
                "connector",
                connector=connector.pk,
                endpoint=endpoint.pk,
                variables={"id": "[[payload.id]]"},
            )
        ]
    )
    upstream.add("POST /orders/A1", {"ok": True})

    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": "A1", "qty": 2}'))

    assert run.status == Run.Status.SUCCEEDED, run.error
    sent = upstream.requests[0]
    assert sent.content == b'{"ref": "A1", "qty": 2}'
    assert len(sent.headers["x-signature"]) == 8


def test_the_shapes_timeout_wins_over_the_connectors(make_flow, make_connector, make_endpoint, upstream):
    seen = {}

    def capture(request):
        import httpx

        seen["timeout"] = request.extensions["timeout"]
        return httpx.Response(200, text="ok")

    connector = make_connector(timeout=30)
    endpoint = make_endpoint(connector, path="/t")
    upstream.add("GET /t", capture)
    flow = make_flow([shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk, timeout=7)])
    run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert seen["timeout"]["read"] == 7

    default_flow = make_flow([shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    run_once(services.enqueue_run(flow=default_flow, trigger="api"))
    assert seen["timeout"]["read"] == 30


def test_a_body_template_that_is_not_json_fails_the_step_clearly(
    make_flow, make_connector, make_endpoint, upstream
):
    connector = make_connector()
    endpoint = make_endpoint(connector, method="POST", path="/x", body_template='{"id": [[payload.id]]}')
    flow = make_flow([shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": "not-a-number"}'))
    assert run.status == Run.Status.FAILED
    assert "did not render valid JSON" in run.error
    assert upstream.requests == []


def test_an_endpoint_deleted_after_deploy_fails_the_step_clearly(
    make_flow, make_connector, make_endpoint, upstream
):
    connector = make_connector()
    endpoint = make_endpoint(connector, path="/x")
    flow = make_flow([shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    endpoint_id = endpoint.pk
    endpoint.delete()

    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.FAILED
    assert f"Endpoint {endpoint_id} does not exist on connector '{connector.name}'" in run.error
