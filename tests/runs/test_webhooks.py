"""The webhook trigger through HTTP: payload and meta, reply settings, final payload mode, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from designer.services import create_flow, deploy_flow, update_flow
from runs.models import Run

# The webhook view reads the database from a thread pool (it is async), so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def webhook_flow(name: str = "Hooked", *, response: dict[str, Any] | None = None, deploy: bool = True):
    settings: dict[str, Any] = {"kind": "webhook"}
    if response is not None:
        settings["response"] = response
    graph = {
        "shapes": [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Hook",
                "position": {"x": 0, "y": 0},
                "settings": settings,
            }
        ],
        "connections": [],
    }
    flow = create_flow(name=name, graph=graph)
    if deploy:
        deploy_flow(flow=flow)
    return flow


def test_post_starts_a_run_and_answers_with_the_default_reply():
    flow = webhook_flow()

    response = Client().post(flow.webhook_path, data='{"order_id": 5}', content_type="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    run = Run.objects.get()
    assert body == {"message": "Flow initialised.", "run": run.pk}
    assert run.trigger == "webhook"
    assert run.status == "queued"
    assert run.flow_id == flow.pk
    assert run.input_payload == '{"order_id": 5}'


def test_a_post_body_wins_over_query_parameters():
    flow = webhook_flow()

    Client().post(f"{flow.webhook_path}?order_id=9", data="<order id='5'/>", content_type="application/xml")

    run = Run.objects.get()
    assert run.input_payload == "<order id='5'/>"
    assert run.input_meta["http_query"] == "order_id=9"


def test_get_query_parameters_become_a_json_object_payload():
    flow = webhook_flow()

    response = Client().get(f"{flow.webhook_path}?order_id=9&tag=a&tag=b")

    assert response.status_code == 200
    run = Run.objects.get()
    assert json.loads(run.input_payload) == {"order_id": "9", "tag": ["a", "b"]}
    assert run.input_meta["http_method"] == "GET"


def test_method_and_headers_go_into_meta_but_credentials_do_not():
    flow = webhook_flow()

    Client().post(
        flow.webhook_path,
        data="{}",
        content_type="application/json",
        headers={"X-Shop": "north", "Authorization": "Bearer secret-token", "Cookie": "sessionid=abc"},
    )

    meta = Run.objects.get().input_meta
    assert meta["http_method"] == "POST"
    assert meta["header_x_shop"] == "north"
    assert meta["header_content_type"] == "application/json"
    assert "header_authorization" not in meta
    assert "header_cookie" not in meta
    assert "secret-token" not in json.dumps(meta)


def test_credential_query_parameters_are_masked_in_meta():
    flow = webhook_flow()

    Client().post(
        f"{flow.webhook_path}?api_key=s3cr3t-key-value&order_id=9&access_token=tok%2Fxyz-77&sig=abc123",
        data="{}",
        content_type="application/json",
    )

    meta = Run.objects.get().input_meta
    assert meta["http_query"] == "api_key=***&order_id=9&access_token=***&sig=***"
    stored = json.dumps(meta)
    for secret in ("s3cr3t-key-value", "tok%2Fxyz-77", "tok/xyz-77", "abc123"):
        assert secret not in stored


@pytest.mark.parametrize(
    ("response_settings", "status", "content_type", "body"),
    [
        ({"status": 202, "body": '{"ok": true}', "format": "json"}, 202, "application/json", '{"ok": true}'),
        ({"status": 201, "body": "<ok/>", "format": "xml"}, 201, "application/xml", "<ok/>"),
        ({"body": "thanks", "format": "text"}, 200, "text/plain; charset=utf-8", "thanks"),
    ],
)
def test_the_reply_follows_the_trigger_response_settings(response_settings, status, content_type, body):
    flow = webhook_flow(response={"mode": "immediate", **response_settings})

    response = Client().post(flow.webhook_path, data="x", content_type="text/plain")

    assert response.status_code == status
    assert response["Content-Type"] == content_type
    assert response.content.decode() == body
    assert response["X-Patchbay-Run"] == str(Run.objects.get().pk)


def test_the_default_xml_reply_names_the_run():
    flow = webhook_flow(response={"format": "xml"})

    response = Client().post(flow.webhook_path)

    run = Run.objects.get()
    assert response.content.decode() == (
        f"<response><message>Flow initialised.</message><run>{run.pk}</run></response>"
    )


def test_final_payload_mode_answers_504_when_the_run_does_not_finish_in_time():
    flow = webhook_flow(response={"mode": "final_payload", "timeout": 1})

    response = Client().post(flow.webhook_path, data="{}", content_type="application/json")

    assert response.status_code == 504
    body = response.json()
    run = Run.objects.get()
    assert body["run"] == run.pk
    assert "did not finish within 1 seconds" in body["detail"]
    assert run.status == "queued"  # nothing executed it; the run itself is not lost


def test_an_unknown_key_is_404():
    webhook_flow()

    response = Client().post("/hooks/no-such-key/", data="{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No flow has this webhook key.", "errors": []}
    assert not Run.objects.exists()


def test_a_disabled_flow_refuses_with_409():
    flow = webhook_flow()
    update_flow(flow=flow, enabled=False)

    response = Client().post(flow.webhook_path, data="{}", content_type="application/json")

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert not Run.objects.exists()


def test_an_undeployed_flow_refuses_with_409():
    flow = webhook_flow(deploy=False)

    response = Client().get(flow.webhook_path)

    assert response.status_code == 409
    assert "no deployed version" in response.json()["detail"]


def test_a_flow_without_a_webhook_trigger_refuses_with_409():
    graph = {
        "shapes": [
            {
                "id": "t",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "manual"},
            }
        ],
        "connections": [],
    }
    flow = create_flow(name="Manual only", graph=graph)
    deploy_flow(flow=flow)

    response = Client().post(flow.webhook_path)

    assert response.status_code == 409
    assert "not by a webhook" in response.json()["detail"]


def test_an_oversized_body_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    flow = webhook_flow()

    response = Client().post(flow.webhook_path, data="x" * 2000, content_type="text/plain")

    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large."
    assert not Run.objects.exists()


def test_other_methods_are_refused():
    flow = webhook_flow()

    response = Client().delete(flow.webhook_path)

    assert response.status_code == 405
    assert not Run.objects.exists()
