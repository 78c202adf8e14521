"""Export a flow with references by name, import it again (here, under a new name) with the ids resolved."""

from __future__ import annotations

import copy

import pytest

from designer.models import Flow, FlowVersion
from tests.designer.conftest import SHOP_SECRET, link, shape, trigger


@pytest.fixture
def exported_flow(editor_client, orders_flow, shop, get_order, tidy_script):
    invoices = editor_client.post("/api/flows/", {"name": "Invoices"}, format="json").json()
    graph = {
        "shapes": [
            trigger("webhook", response={"mode": "immediate", "status": 202}),
            shape(
                "call",
                "connector",
                connector=shop.pk,
                endpoint=get_order.pk,
                response_script=tidy_script.pk,
                response_script_version=1,
            ),
            shape("tidy", "script", script=tidy_script.pk, version=None),
            shape(
                "m",
                "map",
                mappings=[{"source": "a", "target": "b", "transform": "script", "script": tidy_script.pk}],
            ),
            shape("next", "run_flow", flow=invoices["id"]),
        ],
        "connections": [link("trigger", "call"), link("call", "tidy"), link("tidy", "m"), link("m", "next")],
    }
    editor_client.patch(
        f"/api/flows/{orders_flow.pk}/",
        {"priority": 1, "variables": {"region": "eu"}, "max_run_retries": 2},
        format="json",
    )
    assert (
        editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", graph, format="json").json()["errors"] == []
    )
    return graph


def test_export_names_references_and_holds_no_secret(editor_client, orders_flow, exported_flow) -> None:
    response = editor_client.get(f"/api/flows/{orders_flow.pk}/export/")
    assert response.status_code == 200
    document = response.json()
    assert document["format"] == "patchbay.flow"
    assert document["format_version"] == 1
    assert document["flow"] == {
        "name": "Orders",
        "description": "",
        "enabled": True,
        "priority": 1,
        "variables": {"region": "eu"},
        "max_run_retries": 2,
        "max_concurrent_runs": None,
    }
    shapes = {s["id"]: s["settings"] for s in document["graph"]["shapes"]}
    assert shapes["call"] == {
        "connector": "Shop API",
        "endpoint": "Get order",
        "response_script": "Tidy",
        "response_script_version": 1,
    }
    assert shapes["tidy"] == {"script": "Tidy", "version": None}
    assert shapes["m"]["mappings"][0]["script"] == "Tidy"
    assert shapes["next"] == {"flow": "Invoices"}
    assert document["graph"]["connections"] == exported_flow["connections"]
    assert SHOP_SECRET not in response.content.decode()


def test_export_then_import_under_a_new_name_round_trips(editor_client, orders_flow, exported_flow) -> None:
    document = editor_client.get(f"/api/flows/{orders_flow.pk}/export/").json()
    response = editor_client.post("/api/flows/import/", {**document, "name": "Orders copy"}, format="json")
    assert response.status_code == 201, response.json()
    imported = response.json()
    assert imported["name"] == "Orders copy"
    assert imported["errors"] == []
    assert (imported["priority"], imported["variables"], imported["max_run_retries"]) == (
        1,
        {"region": "eu"},
        2,
    )
    assert imported["deployed_version"] is None
    # Same graph, ids resolved by name in this installation.
    draft = FlowVersion.objects.get(flow_id=imported["id"], status="draft")
    assert draft.graph == exported_flow
    # Its export equals the original's apart from the name.
    again = editor_client.get(f"/api/flows/{imported['id']}/export/").json()
    assert again["graph"] == document["graph"]
    assert {**again["flow"], "name": "Orders"} == document["flow"]
    assert editor_client.post(f"/api/flows/{imported['id']}/deploy/", format="json").status_code == 201


def test_import_under_a_taken_name_is_refused(editor_client, orders_flow, exported_flow) -> None:
    document = editor_client.get(f"/api/flows/{orders_flow.pk}/export/").json()
    response = editor_client.post("/api/flows/import/", document, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "A flow named 'Orders' already exists; give a new 'name' to import it under.",
        "errors": [{"field": "name", "message": "A flow named 'Orders' already exists."}],
    }
    assert Flow.objects.count() == 2


def test_import_lists_every_reference_missing_here(editor_client, orders_flow, exported_flow) -> None:
    document = editor_client.get(f"/api/flows/{orders_flow.pk}/export/").json()
    broken = copy.deepcopy(document)
    shapes = {s["id"]: s["settings"] for s in broken["graph"]["shapes"]}
    shapes["call"]["endpoint"] = "Delete order"
    shapes["tidy"]["script"] = "Prettify"
    shapes["next"]["flow"] = "Payments"
    response = editor_client.post("/api/flows/import/", {**broken, "name": "Elsewhere"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The export references things that do not exist in this installation.",
        "errors": [
            {
                "shape": "call",
                "setting": "endpoint",
                "message": "Connector 'Shop API' has no endpoint 'Delete order' here.",
            },
            {"shape": "tidy", "setting": "script", "message": "Script 'Prettify' does not exist here."},
            {"shape": "next", "setting": "flow", "message": "Flow 'Payments' does not exist here."},
        ],
    }
    shapes["call"]["connector"] = "Warehouse"
    response = editor_client.post("/api/flows/import/", {**broken, "name": "Elsewhere"}, format="json")
    assert response.json()["errors"][0] == {
        "shape": "call",
        "setting": "connector",
        "message": "Connector 'Warehouse' does not exist here.",
    }
    assert not Flow.objects.filter(name="Elsewhere").exists()


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"format": "zip", "format_version": 1, "flow": {}, "graph": {"shapes": [], "connections": []}},
            400,
            "This is not a Patchbay flow export (expected format 'patchbay.flow').",
        ),
        (
            {
                "format": "patchbay.flow",
                "format_version": 9,
                "flow": {"name": "N"},
                "graph": {"shapes": [], "connections": []},
            },
            400,
            "Unsupported export format version 9.",
        ),
        (
            {
                "format": "patchbay.flow",
                "format_version": 1,
                "flow": {"name": "N", "priority": 9},
                "graph": {"shapes": [], "connections": []},
            },
            400,
            "The export's flow settings are invalid.",
        ),
        ({"format": "patchbay.flow"}, 400, "Invalid input."),
    ],
)
def test_import_refuses_documents_it_cannot_read(editor_client, body, status, detail) -> None:
    response = editor_client.post("/api/flows/import/", body, format="json")
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert not Flow.objects.exists()
