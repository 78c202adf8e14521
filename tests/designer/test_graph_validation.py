"""Graph validation through POST /api/flows/{id}/validate/ and deploy: one table row per kind of mistake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from designer.graph import validate_graph
from tests.designer.conftest import chain, link, shape, trigger

Context = dict[str, Any]
Case = Callable[[Context], dict[str, Any]]
Expected = list[dict[str, Any]] | Callable[[Context], list[dict[str, Any]]]


def err(shape_id: str | None, setting: str | None, message: str) -> dict[str, Any]:
    return {"shape": shape_id, "setting": setting, "message": message}


def notify(shape_id: str) -> dict[str, Any]:
    return shape(shape_id, "notify", message="hello")


INVALID_GRAPHS: list[tuple[str, Case, Expected]] = [
    (
        "no trigger",
        lambda c: {"shapes": [notify("n")], "connections": []},
        [err(None, None, "The flow needs exactly one trigger shape; it has none.")],
    ),
    (
        "two triggers",
        lambda c: {"shapes": [trigger(), shape("t2", "trigger", kind="manual")], "connections": []},
        [err("t2", None, "The flow needs exactly one trigger shape; it has 2: 'trigger', 't2'.")],
    ),
    (
        "duplicate shape id",
        lambda c: {
            "shapes": [trigger(), notify("n"), notify("n")],
            "connections": [link("trigger", "n")],
        },
        [err("n", None, "Shape id 'n' is used by 2 shapes.")],
    ),
    (
        "unknown shape type",
        lambda c: chain(shape("x", "teleport")),
        [
            err(
                "x",
                None,
                "Shape 'x' has unknown type 'teleport' (trigger, connector, script, map, filter, route, "
                "branch, split, flow_control, set_variables, notify, run_flow, manual_payload, assert, "
                "try_catch, cache_add, cache_load, dedupe).",
            )
        ],
    ),
    (
        "cycle",
        lambda c: {
            "shapes": [trigger(), notify("a"), notify("b")],
            "connections": [link("trigger", "a"), link("a", "b"), link("b", "a")],
        },
        [err("a", None, "Shapes 'a', 'b' form a cycle.")],
    ),
    (
        "shape connected to itself",
        lambda c: {"shapes": [trigger(), notify("a")], "connections": [link("trigger", "a"), link("a", "a")]},
        [err("a", None, "Shape 'a' is connected to itself.")],
    ),
    (
        "dangling connection",
        lambda c: {
            "shapes": [trigger(), notify("a")],
            "connections": [link("trigger", "a"), link("a", "ghost")],
        },
        [err("a", None, "Connection from 'a' to 'ghost' points to unknown shape 'ghost'.")],
    ),
    (
        "duplicate connection",
        lambda c: {
            "shapes": [trigger(), notify("a")],
            "connections": [link("trigger", "a"), link("trigger", "a")],
        },
        [err("trigger", None, "Connection from 'trigger' to 'a' appears more than once.")],
    ),
    (
        "connection into the trigger",
        lambda c: {
            "shapes": [trigger(), notify("a")],
            "connections": [link("trigger", "a"), link("a", "trigger")],
        },
        [err("trigger", None, "The trigger 'trigger' cannot have incoming connections; 'a' connects to it.")],
    ),
    (
        "unreachable shape",
        lambda c: {
            "shapes": [trigger(), notify("a"), notify("island")],
            "connections": [link("trigger", "a")],
        },
        [err("island", None, "Shape 'island' is not reachable from the trigger.")],
    ),
    (
        "missing required setting",
        lambda c: chain(shape("batch", "flow_control")),
        [err("batch", "size", "Setting 'size' is required.")],
    ),
    (
        "setting of the wrong type",
        lambda c: chain(shape("batch", "flow_control", size="10")),
        [err("batch", "size", "Setting 'size' must be an integer, not a string.")],
    ),
    (
        "setting out of range",
        lambda c: chain(shape("call", "connector", connector=c["shop"], endpoint=c["get_order"], retries=11)),
        [err("call", "retries", "Setting 'retries' must be between 0 and 10; got 11.")],
    ),
    (
        "unknown (mistyped) setting",
        lambda c: chain(shape("n", "notify", message="hi", levle="error")),
        [err("n", "levle", "Unknown setting 'levle' (known settings: message, level, email).")],
    ),
    (
        "schedule trigger without cron",
        lambda c: {"shapes": [trigger("schedule")], "connections": []},
        [err("trigger", "cron", "A schedule trigger needs at least one cron expression in 'cron'.")],
    ),
    (
        "invalid cron expression",
        lambda c: {"shapes": [trigger("schedule", cron=["0 * * * *", "61 * * * *"])], "connections": []},
        [
            err(
                "trigger",
                "cron.1",
                "'61 * * * *' is not a valid 5-field cron expression (minute hour day month weekday).",
            )
        ],
    ),
    (
        "six-field cron expression",
        lambda c: {"shapes": [trigger("schedule", cron=["0 0 * * * *"])], "connections": []},
        [
            err(
                "trigger",
                "cron.0",
                "'0 0 * * * *' is not a valid 5-field cron expression (minute hour day month weekday).",
            )
        ],
    ),
    (
        "webhook status out of range",
        lambda c: {"shapes": [trigger("webhook", response={"status": 700})], "connections": []},
        [
            err(
                "trigger",
                "response.status",
                "Setting 'response.status' must be between 100 and 599; got 700.",
            )
        ],
    ),
    (
        "connector that does not exist",
        lambda c: chain(shape("call", "connector", connector=999999, endpoint=c["get_order"])),
        [err("call", "connector", "Setting 'connector' refers to connector 999999, which does not exist.")],
    ),
    (
        "endpoint of another connector",
        lambda c: chain(shape("call", "connector", connector=c["shop"], endpoint=c["erp_post"])),
        lambda c: [
            err(
                "call",
                "endpoint",
                f"Setting 'endpoint' must be an endpoint of connector 'Shop API' (id {c['shop']}); "
                f"endpoint {c['erp_post']} belongs to 'ERP'.",
            )
        ],
    ),
    (
        "script that does not exist",
        lambda c: chain(shape("tidy", "script", script=999999)),
        [err("tidy", "script", "Setting 'script' refers to script 999999, which does not exist.")],
    ),
    (
        "script without a deployed version",
        lambda c: chain(shape("tidy", "script", script=c["undeployed"])),
        lambda c: [
            err(
                "tidy",
                "script",
                f"Script 'Unfinished' (id {c['undeployed']}) has no deployed version; deploy it first.",
            )
        ],
    ),
    (
        "pinned script version that does not exist",
        lambda c: chain(shape("tidy", "script", script=c["tidy"], version=7)),
        lambda c: [err("tidy", "version", f"Script 'Tidy' (id {c['tidy']}) has no version 7.")],
    ),
    (
        "response script without a deployed version",
        lambda c: chain(
            shape(
                "call",
                "connector",
                connector=c["shop"],
                endpoint=c["get_order"],
                response_script=c["undeployed"],
            )
        ),
        lambda c: [
            err(
                "call",
                "response_script",
                f"Script 'Unfinished' (id {c['undeployed']}) has no deployed version; deploy it first.",
            )
        ],
    ),
    (
        "run_flow calling its own flow",
        lambda c: chain(shape("again", "run_flow", flow=c["flow"])),
        lambda c: [
            err("again", "flow", f"A run_flow shape cannot run its own flow 'Orders' (id {c['flow']}).")
        ],
    ),
    (
        "run_flow calling a flow that does not exist",
        lambda c: chain(shape("next", "run_flow", flow=999999)),
        [err("next", "flow", "Setting 'flow' refers to flow 999999, which does not exist.")],
    ),
    (
        "route connection labelled with an unknown route",
        lambda c: {
            "shapes": [trigger(), shape("r", "route", routes=[{"label": "paid"}]), notify("a")],
            "connections": [link("trigger", "r"), link("r", "a", label="unpaid")],
        },
        [
            err(
                "r",
                None,
                "Connection from 'r' to 'a' is labelled 'unpaid', which is not a route of 'r' "
                "(routes: 'paid').",
            )
        ],
    ),
    (
        "conditional route connection without a label",
        lambda c: {
            "shapes": [trigger(), shape("r", "route", routes=[{"label": "paid"}]), notify("a")],
            "connections": [link("trigger", "r"), link("r", "a")],
        },
        [err("r", None, "Connection from 'r' to 'a' needs the label of a route ('paid').")],
    ),
    (
        "duplicate route labels",
        lambda c: chain(shape("r", "route", routes=[{"label": "paid"}, {"label": "paid"}])),
        [err("r", "routes.1.label", "Route label 'paid' is used by more than one route.")],
    ),
    (
        "branch order used twice",
        lambda c: {
            "shapes": [trigger(), shape("b", "branch"), notify("one"), notify("two")],
            "connections": [link("trigger", "b"), link("b", "one", order=1), link("b", "two", order=1)],
        },
        [err("b", None, "Branch order 1 of 'b' is used by 2 connections.")],
    ),
    (
        "branch connection without order",
        lambda c: {
            "shapes": [trigger(), shape("b", "branch"), notify("one")],
            "connections": [link("trigger", "b"), link("b", "one")],
        },
        [err("b", None, "Connection from 'b' to 'one' needs an 'order' from 1 to 6.")],
    ),
    (
        "try / catch without a try connection",
        lambda c: {
            "shapes": [trigger(), shape("tc", "try_catch"), notify("oops")],
            "connections": [link("trigger", "tc"), link("tc", "oops", label="catch")],
        },
        [err("tc", None, "Try / catch 'tc' needs at least one outgoing connection labelled 'try'.")],
    ),
    (
        "label on a plain connection",
        lambda c: {
            "shapes": [trigger(), notify("a")],
            "connections": [link("trigger", "a", label="yes")],
        },
        [
            err(
                "trigger",
                None,
                "Connection from 'trigger' to 'a' carries a label or order; only route, branch and "
                "try / catch connections do.",
            )
        ],
    ),
    (
        "xml split without element",
        lambda c: chain(shape("s", "split", format="xml")),
        [err("s", "element", "An XML split needs the tag name of the elements to split on in 'element'.")],
    ),
    (
        "filter without conditions",
        lambda c: chain(shape("f", "filter", conditions=[])),
        [err("f", "conditions", "Setting 'conditions' needs at least 1 item.")],
    ),
    (
        "condition with an invalid regular expression",
        lambda c: chain(
            shape("f", "filter", conditions=[{"path": "sku", "operator": "matches", "value": "ab(c"}])
        ),
        [
            err(
                "f",
                "conditions.0.value",
                "Setting 'conditions.0.value' is not a valid regular expression: "
                "missing ), unterminated subpattern at position 2.",
            )
        ],
    ),
    (
        "condition without the value its operator needs",
        lambda c: chain(shape("f", "assert", conditions=[{"path": "total", "operator": "greater_than"}])),
        [
            err(
                "f",
                "conditions.0.value",
                "Setting 'conditions.0.value' is required for operator 'greater_than'.",
            )
        ],
    ),
    (
        "invalid JMESPath",
        lambda c: chain(shape("batch", "flow_control", size=10, path="items[")),
        [
            err(
                "batch",
                "path",
                "Setting 'path' is not a valid JMESPath expression: the expression ends too early.",
            )
        ],
    ),
    (
        "JMESPath with a syntax error",
        lambda c: chain(shape("s", "split", path="a..b")),
        [
            err(
                "s",
                "path",
                "Setting 'path' is not a valid JMESPath expression: syntax error at column 2 near '.'.",
            )
        ],
    ),
    (
        "map script transform without a script",
        lambda c: chain(shape("m", "map", mappings=[{"source": "a", "target": "b", "transform": "script"}])),
        [err("m", "mappings.0.script", "Mapping 1 uses the 'script' transform but names no script.")],
    ),
    (
        "notify email to an invalid address",
        lambda c: chain(shape("n", "notify", message="hi", email={"to": ["not-an-address"]})),
        [err("n", "email.to.0", "Setting 'email.to.0' must be an email address; got 'not-an-address'.")],
    ),
    (
        "shapes is not a list",
        lambda c: {"shapes": {"id": "trigger"}, "connections": []},
        [err(None, None, "The graph needs a 'shapes' list.")],
    ),
]


@pytest.fixture
def context(orders_flow, shop, get_order, erp_post, tidy_script, undeployed_script) -> Context:
    return {
        "flow": orders_flow.pk,
        "shop": shop.pk,
        "get_order": get_order.pk,
        "erp_post": erp_post.pk,
        "tidy": tidy_script.pk,
        "undeployed": undeployed_script.pk,
    }


@pytest.mark.parametrize(
    ("graph_of", "expected"), [(g, e) for _, g, e in INVALID_GRAPHS], ids=[n for n, *_ in INVALID_GRAPHS]
)
def test_invalid_graph_is_refused_with_the_exact_errors(editor_client, context, graph_of, expected) -> None:
    if callable(expected):
        expected = expected(context)
    response = editor_client.post(f"/api/flows/{context['flow']}/validate/", graph_of(context), format="json")
    assert response.status_code == 400, response.json()
    assert response.json() == {"detail": "The flow graph is invalid.", "errors": expected}


def test_invalid_draft_cannot_be_deployed(editor_client, context) -> None:
    graph = chain(shape("batch", "flow_control"))
    saved = editor_client.put(f"/api/flows/{context['flow']}/draft/", graph, format="json")
    assert saved.status_code == 200
    assert saved.json()["errors"] == [err("batch", "size", "Setting 'size' is required.")]

    response = editor_client.post(f"/api/flows/{context['flow']}/deploy/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The flow graph is invalid.",
        "errors": [err("batch", "size", "Setting 'size' is required.")],
    }
    versions = editor_client.get(f"/api/flows/{context['flow']}/versions/").json()
    assert [v["status"] for v in versions] == ["draft"]


def full_graph(c: Context) -> dict[str, Any]:
    """Every shape type, correctly wired."""
    condition = {"source": "payload", "path": "status", "operator": "equals", "value": "paid"}
    return {
        "shapes": [
            trigger("schedule", cron=["*/5 * * * *"]),
            shape(
                "call",
                "connector",
                connector=c["shop"],
                endpoint=c["get_order"],
                variables={"order_id": "[[payload.id]]"},
                timeout=None,
                retries=2,
                response_script=c["tidy"],
                response_script_version=1,
            ),
            shape("tidy", "script", script=c["tidy"], version=None),
            shape(
                "m",
                "map",
                mappings=[
                    {"source": "id", "target": "order.id", "transform": "string"},
                    {"source": "total", "target": "order.total", "transform": "script", "script": c["tidy"]},
                ],
                output="new",
            ),
            shape("f", "filter", conditions=[condition], match="any", keep_matching=True),
            shape("r", "route", routes=[{"label": "paid", "conditions": [condition]}, {"label": "other"}]),
            shape("b", "branch"),
            shape("s", "split", format="csv", header=True),
            shape("batch", "flow_control", size=50, path="items"),
            shape("vars", "set_variables", variables=[{"name": "seen", "value": "yes", "scope": "flow"}]),
            shape("n", "notify", message="Order [[payload.id]]", level="warning", email=None),
            shape("next", "run_flow", flow=c["other_flow"], pass_payload=True),
            shape("fixed", "manual_payload", payload='{"ok": true}', meta={"source": "fixed"}),
            shape("check", "assert", conditions=[{"path": "ok", "operator": "exists"}], message="not ok"),
            shape("tc", "try_catch", partial_success=True),
            notify("caught"),
        ],
        "connections": [
            link("trigger", "call"),
            link("call", "tidy"),
            link("tidy", "m"),
            link("m", "f"),
            link("f", "r"),
            link("r", "b", label="paid"),
            link("r", "n", label="other"),
            link("b", "s", order=1),
            link("b", "batch", order=2),
            link("s", "vars"),
            link("batch", "tc"),
            link("tc", "fixed", label="try"),
            link("tc", "caught", label="catch"),
            link("fixed", "check"),
            link("n", "next"),
        ],
    }


def test_a_graph_using_every_shape_type_is_valid_and_deploys(editor_client, context) -> None:
    other = editor_client.post("/api/flows/", {"name": "Other"}, format="json").json()
    context["other_flow"] = other["id"]
    graph = full_graph(context)
    assert validate_graph(graph) == []

    checked = editor_client.post(f"/api/flows/{context['flow']}/validate/", graph, format="json")
    assert checked.status_code == 200
    assert checked.json() == {"valid": True, "errors": []}
    assert (
        editor_client.put(f"/api/flows/{context['flow']}/draft/", graph, format="json").json()["errors"] == []
    )
    deployed = editor_client.post(
        f"/api/flows/{context['flow']}/deploy/", {"comment": "first"}, format="json"
    )
    assert deployed.status_code == 201
    assert deployed.json() == {"version": 1}


def test_validate_with_an_empty_body_checks_the_draft(viewer_client, orders_flow) -> None:
    # The new flow's draft is one manual trigger: valid. Validation is a read, so a viewer may ask.
    response = viewer_client.post(f"/api/flows/{orders_flow.pk}/validate/", format="json")
    assert response.status_code == 200
    assert response.json() == {"valid": True, "errors": []}


def test_several_errors_are_reported_together(editor_client, context) -> None:
    graph = {
        "shapes": [trigger(), shape("batch", "flow_control", size=0), notify("island")],
        "connections": [link("trigger", "batch")],
    }
    response = editor_client.post(f"/api/flows/{context['flow']}/validate/", graph, format="json")
    assert response.json()["errors"] == [
        err("batch", "size", "Setting 'size' must be between 1 and 10000; got 0."),
        err("island", None, "Shape 'island' is not reachable from the trigger."),
    ]


def test_shape_types_describe_every_shape_with_its_settings_schema(viewer_client) -> None:
    response = viewer_client.get("/api/shape-types/")
    assert response.status_code == 200
    types = {item["type"]: item for item in response.json()}
    assert len(types) == 18
    flow_control = types["flow_control"]["settings"]
    assert flow_control["required"] == ["size"]
    assert flow_control["properties"]["size"] == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert types["branch"]["connection_attribute"] == "order"
    assert types["route"]["connection_attribute"] == "label"
    assert types["connector"]["settings"]["properties"]["endpoint"]["x-reference"] == "endpoint"
