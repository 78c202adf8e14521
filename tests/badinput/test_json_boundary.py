"""One validation boundary for JSON in (issue 13 item 1): nesting depth, integer range, valid Unicode and
integer query parameters, each refused with 400 naming the field, on the API, webhooks and websockets."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from designer.models import Flow
from designer.services import create_connector, create_flow, deploy_flow
from runs.models import Run

pytestmark = pytest.mark.django_db

LONE_SURROGATE = '"\\ud800"'  # JSON text of a string holding a lone surrogate
DEEP = "[" * 10_000 + "]" * 10_000


def send(client: APIClient, method: str, path: str, body: str):
    return client.generic(method, path, body, content_type="application/json")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert body["detail"] and body["errors"], body
    assert [error["field"] for error in body["errors"]] == [field], body


@pytest.fixture
def flow(db) -> Flow:
    return create_flow(name="Orders")


def test_a_lone_surrogate_in_flow_variables_is_refused_and_the_flow_stays_readable(
    editor_client: APIClient, flow: Flow
) -> None:
    response = send(
        editor_client, "PATCH", f"/api/flows/{flow.pk}/", '{"variables": {"region": ' + LONE_SURROGATE + "}}"
    )

    assert_refused(response, "variables.region")
    assert "surrogate" in response.json()["errors"][0]["message"]
    for path in (
        f"/api/flows/{flow.pk}/",
        "/api/flows/",
        f"/api/flows/{flow.pk}/draft/",
        f"/api/flows/{flow.pk}/export/",
    ):
        assert editor_client.get(path).status_code == 200, path


def test_a_lone_surrogate_in_a_draft_is_refused(editor_client: APIClient, flow: Flow) -> None:
    body = (
        '{"shapes": [{"id": "trigger", "type": "trigger", "name": ' + LONE_SURROGATE + ", "
        '"position": {"x": 0, "y": 0}, "settings": {"kind": "manual"}}], "connections": []}'
    )
    response = send(editor_client, "PUT", f"/api/flows/{flow.pk}/draft/", body)

    assert_refused(response, "shapes.0.name")
    assert editor_client.get(f"/api/flows/{flow.pk}/draft/").status_code == 200


def test_a_lone_surrogate_in_an_object_key_is_refused(editor_client: APIClient, flow: Flow) -> None:
    response = send(
        editor_client, "PATCH", f"/api/flows/{flow.pk}/", '{"variables": {' + LONE_SURROGATE + ': "x"}}'
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("variables.")


def test_a_connector_id_beyond_64_bits_in_a_draft_is_refused(editor_client: APIClient, flow: Flow) -> None:
    graph = {
        "shapes": [
            {"id": "trigger", "type": "trigger", "name": "Start", "position": {"x": 0, "y": 0},
             "settings": {"kind": "manual"}},
            {"id": "get", "type": "connector", "name": "Get", "position": {"x": 1, "y": 0},
             "settings": {"connector": 2**70, "endpoint": 1}},
        ],
        "connections": [{"source": "trigger", "target": "get"}],
    }  # fmt: skip
    response = send(editor_client, "PUT", f"/api/flows/{flow.pk}/draft/", json.dumps(graph))

    assert_refused(response, "shapes.1.settings.connector")
    assert "64-bit" in response.json()["errors"][0]["message"]
    assert editor_client.get(f"/api/flows/{flow.pk}/draft/").status_code == 200
    assert editor_client.post(f"/api/flows/{flow.pk}/validate/", {}, format="json").status_code in (200, 400)


@pytest.mark.parametrize("value", [2**70, 2**63, -(2**63) - 1, 2**31])
def test_max_concurrent_runs_beyond_what_its_column_holds_is_refused(
    editor_client: APIClient, flow: Flow, value: int
) -> None:
    response = send(
        editor_client, "PATCH", f"/api/flows/{flow.pk}/", json.dumps({"max_concurrent_runs": value})
    )

    assert_refused(response, "max_concurrent_runs")
    flow.refresh_from_db()
    assert flow.max_concurrent_runs is None


def test_a_float_beyond_the_double_range_is_refused(editor_client: APIClient, flow: Flow) -> None:
    response = send(editor_client, "PATCH", f"/api/flows/{flow.pk}/", '{"variables": {"ratio": 1e400}}')

    assert_refused(response, "variables.ratio")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/flows/{flow}/"),
        ("PUT", "/api/flows/{flow}/draft/"),
        ("POST", "/api/flows/"),
        ("POST", "/api/flows/{flow}/validate/"),
        ("POST", "/api/flows/{flow}/runs/"),
        ("POST", "/api/connectors/"),
        ("POST", "/api/scripts/"),
        ("POST", "/api/flows/import/"),
    ],
)
def test_json_nested_ten_thousand_levels_deep_is_refused_on_every_json_endpoint(
    admin_client: APIClient, flow: Flow, method: str, path: str
) -> None:
    body = '{"variables": ' + DEEP + "}"
    response = send(admin_client, method, path.format(flow=flow.pk), body)

    assert response.status_code == 400, response.content[:300]
    assert "deep" in response.json()["detail"]


def test_json_just_within_the_depth_limit_is_accepted(editor_client: APIClient, flow: Flow) -> None:
    value: object = "leaf"
    for _ in range(50):
        value = {"next": value}
    graph = {
        "shapes": [
            {"id": "trigger", "type": "trigger", "name": "Start", "position": {"x": 0, "y": 0},
             "settings": {"kind": "manual", "note": value}},
        ],
        "connections": [],
    }  # fmt: skip
    response = send(editor_client, "PUT", f"/api/flows/{flow.pk}/draft/", json.dumps(graph))

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/flows/?limit=" + str(2**70), "limit"),
        ("/api/flows/?offset=" + str(2**70), "offset"),
        ("/api/runs/?limit=" + str(2**70), "limit"),
        ("/api/runs/?flow=" + str(2**70), "flow"),
        ("/api/runs/?flow=²", "flow"),
        ("/api/endpoints/?connector=" + str(2**70), "connector"),
        ("/api/endpoints/?connector=²", "connector"),
        ("/api/connectors/?limit=" + str(2**70), "limit"),
    ],
)
def test_integer_query_parameters_beyond_64_bits_or_not_ascii_digits_are_400(
    viewer_client: APIClient, flow: Flow, path: str, field: str
) -> None:
    response = viewer_client.get(path)

    assert_refused(response, field)


def test_integer_query_parameters_within_range_still_work(viewer_client: APIClient, flow: Flow) -> None:
    connector = create_connector(name="Shop", base_url="https://shop.example.test")
    assert viewer_client.get("/api/flows/?limit=2&offset=0").status_code == 200
    assert viewer_client.get(f"/api/runs/?flow={flow.pk}&limit=5").status_code == 200
    assert viewer_client.get(f"/api/endpoints/?connector={connector.pk}").status_code == 200


@pytest.fixture
def webhook_flow(db) -> Flow:
    flow = create_flow(
        name="Hook",
        graph={
            "shapes": [
                {"id": "trigger", "type": "trigger", "name": "Hook", "position": {"x": 0, "y": 0},
                 "settings": {"kind": "webhook"}},
            ],
            "connections": [],
        },
    )  # fmt: skip
    deploy_flow(flow=flow)
    return flow


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"order": ' + DEEP + "}", ""),
        ('{"order": {"note": ' + LONE_SURROGATE + "}}", "order.note"),
    ],
)
def test_a_webhook_refuses_json_too_deep_or_with_invalid_unicode(
    client, webhook_flow: Flow, body: str, field: str
) -> None:
    response = client.post(f"/hooks/{webhook_flow.webhook_key}/", body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"][0]["field"].startswith(field)
    assert not Run.objects.exists()


def test_a_webhook_takes_big_integers_in_its_payload(client, webhook_flow: Flow) -> None:
    # A payload is data, not a column: numbers of any size pass to the flow as text.
    body = '{"order": ' + str(2**70) + "}"
    response = client.post(f"/hooks/{webhook_flow.webhook_key}/", body, content_type="application/json")

    assert response.status_code == 200
    assert Run.objects.get().input_payload == body
