"""Deleting flows, scripts and connectors refuses (409) while flows use them, listing those flows; the
`duplicate` actions copy a flow, script or connector under a free name."""

from __future__ import annotations

from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.services import create_flow, deploy_flow, save_draft
from scripts_app.models import Script
from tests.designer.conftest import SHOP_SECRET, chain, shape


def _flow_calling(name: str, get_order: Endpoint, *, deploy: bool) -> Flow:
    graph = chain(shape("get", "connector", connector=get_order.connector_id, endpoint=get_order.pk))
    flow = create_flow(name=name, graph=graph)
    if deploy:
        deploy_flow(flow=flow)
    return flow


def test_deleting_a_connector_in_use_is_refused_with_the_flows_using_it(editor_client, get_order):
    deployed = _flow_calling("Sync orders", get_order, deploy=True)
    _flow_calling("Draft only", get_order, deploy=False)

    answer = editor_client.delete(f"/api/connectors/{get_order.connector_id}/")

    assert answer.status_code == 409
    errors = answer.json()["errors"]
    assert [(e["flow_name"], e["versions"]) for e in errors] == [
        ("Draft only", ["draft"]),
        ("Sync orders", ["draft", "deployed v1"]),
    ]
    assert errors[1]["flow"] == deployed.pk
    assert "Sync orders" in answer.json()["detail"]
    assert Connector.objects.filter(pk=get_order.connector_id).exists()


def test_a_connector_no_flow_uses_is_deleted(editor_client, erp_post):
    assert editor_client.delete(f"/api/connectors/{erp_post.connector_id}/").status_code == 204
    assert not Endpoint.objects.filter(pk=erp_post.pk).exists()


def test_a_connector_is_deleted_once_the_flows_stop_using_it(editor_client, get_order):
    flow = _flow_calling("Sync orders", get_order, deploy=False)
    save_draft(flow=flow, graph=chain())

    assert editor_client.delete(f"/api/connectors/{get_order.connector_id}/").status_code == 204


def test_deleting_a_script_in_use_lists_the_flows(editor_client, tidy_script):
    create_flow(name="Tidy orders", graph=chain(shape("tidy", "script", script=tidy_script.pk)))

    answer = editor_client.delete(f"/api/scripts/{tidy_script.pk}/")

    assert answer.status_code == 409
    assert [e["flow_name"] for e in answer.json()["errors"]] == ["Tidy orders"]
    assert Script.objects.filter(pk=tidy_script.pk).exists()


def test_deleting_a_flow_another_flow_calls_is_refused(editor_client, orders_flow):
    create_flow(name="Caller", graph=chain(shape("call", "run_flow", flow=orders_flow.pk)))

    answer = editor_client.delete(f"/api/flows/{orders_flow.pk}/")

    assert answer.status_code == 409
    assert [e["flow_name"] for e in answer.json()["errors"]] == ["Caller"]
    assert editor_client.delete(f"/api/flows/{Flow.objects.get(name='Caller').pk}/").status_code == 204
    assert editor_client.delete(f"/api/flows/{orders_flow.pk}/").status_code == 204


def test_viewers_cannot_delete_or_duplicate(viewer_client, orders_flow):
    assert viewer_client.delete(f"/api/flows/{orders_flow.pk}/").status_code == 403
    assert viewer_client.post(f"/api/flows/{orders_flow.pk}/duplicate/", {}).status_code == 403


def test_duplicating_a_flow_copies_settings_and_draft_but_not_deployments(editor_client, get_order):
    original = _flow_calling("Sync orders", get_order, deploy=True)
    Flow.objects.filter(pk=original.pk).update(priority=1, variables={"region": "eu"}, max_run_retries=5)

    first = editor_client.post(f"/api/flows/{original.pk}/duplicate/", {}, format="json")
    second = editor_client.post(f"/api/flows/{original.pk}/duplicate/", {}, format="json")
    named = editor_client.post(f"/api/flows/{original.pk}/duplicate/", {"name": "Mine"}, format="json")

    assert first.status_code == 201, first.content
    copy = first.json()
    assert (copy["name"], second.json()["name"], named.json()["name"]) == (
        "Sync orders (copy)",
        "Sync orders (copy 2)",
        "Mine",
    )
    assert (copy["priority"], copy["variables"], copy["max_run_retries"]) == (1, {"region": "eu"}, 5)
    assert copy["deployed_version"] is None
    assert copy["webhook_url"] != editor_client.get(f"/api/flows/{original.pk}/").json()["webhook_url"]
    copied = FlowVersion.objects.get(flow_id=copy["id"], status=FlowVersion.Status.DRAFT)
    assert copied.graph == FlowVersion.objects.get(flow=original, status=FlowVersion.Status.DRAFT).graph


def test_duplicating_under_a_taken_name_is_a_field_error(editor_client, orders_flow, shop):
    flow_answer = editor_client.post(
        f"/api/flows/{orders_flow.pk}/duplicate/", {"name": "Orders"}, format="json"
    )
    connector_answer = editor_client.post(
        f"/api/connectors/{shop.pk}/duplicate/", {"name": "Shop API"}, format="json"
    )

    assert (flow_answer.status_code, flow_answer.json()["errors"][0]["field"]) == (400, "name")
    assert (connector_answer.status_code, connector_answer.json()["errors"][0]["field"]) == (400, "name")


def test_duplicating_a_connector_copies_its_endpoints_and_secrets(editor_client, shop, get_order):
    answer = editor_client.post(f"/api/connectors/{shop.pk}/duplicate/", {}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["name"] == "Shop API (copy)"
    assert "token" not in body or body["token"] in (None, "")
    copy = Connector.objects.get(pk=body["id"])
    assert copy.get_secrets() == {"token": SHOP_SECRET}
    assert list(copy.endpoints.values_list("name", "path")) == [
        ("Get order", "/orders/[[variables.order_id]]")
    ]
    assert Endpoint.objects.filter(connector=shop).count() == 1


def test_duplicating_a_script_copies_its_draft_without_versions(editor_client, tidy_script):
    Script.objects.filter(pk=tidy_script.pk).update(code="def handle(data):\n    return {}\n")

    answer = editor_client.post(f"/api/scripts/{tidy_script.pk}/duplicate/", {}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["name"], body["versions"], body["deployed_version"]) == ("Tidy (copy)", [], None)
    assert body["code"] == "def handle(data):\n    return {}\n"
