"""Malformed, oversized and misaddressed requests get a 4xx with the one error shape, never a 5xx."""

from __future__ import annotations

import json
import re

import pytest
from django.test import override_settings


def test_non_json_body_is_400(editor_client, orders_flow) -> None:
    response = editor_client.generic(
        "PUT", f"/api/flows/{orders_flow.pk}/draft/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert response.json()["errors"] == []


def test_a_body_that_is_not_json_at_all_is_400(editor_client, orders_flow) -> None:
    response = editor_client.generic(
        "PUT", f"/api/flows/{orders_flow.pk}/draft/", "shapes: none", content_type="text/plain"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'Unsupported media type "text/plain" in request. Send the body as JSON '
        "(Content-Type: application/json).",
        "errors": [],
    }


def test_oversized_body_is_413(editor_client, orders_flow) -> None:
    body = json.dumps({"shapes": [], "connections": [], "padding": "x" * 5000})
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024):
        response = editor_client.generic(
            "PUT", f"/api/flows/{orders_flow.pk}/draft/", body, content_type="application/json"
        )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large.", "errors": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/flows/999999/"),
        ("get", "/api/flows/999999/draft/"),
        ("put", "/api/flows/999999/draft/"),
        ("post", "/api/flows/999999/deploy/"),
        ("get", "/api/flows/999999/versions/"),
        ("get", "/api/flows/999999/export/"),
        ("get", "/api/connectors/999999/"),
        ("delete", "/api/connectors/999999/"),
        ("get", "/api/endpoints/999999/"),
        ("patch", "/api/endpoints/999999/"),
    ],
)
def test_unknown_ids_are_404(editor_client, method, path) -> None:
    response = getattr(editor_client, method)(path, {}, format="json")
    assert response.status_code == 404
    assert re.fullmatch(r"No (Flow|Connector|Endpoint) matches the given query\.", response.json()["detail"])
    assert response.json()["errors"] == []


def test_non_numeric_ids_are_404(editor_client) -> None:
    assert editor_client.get("/api/flows/abc/").status_code == 404


def test_endpoint_for_an_unknown_connector_is_400(editor_client) -> None:
    response = editor_client.post("/api/endpoints/", {"connector": 999999, "name": "X"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "connector", "message": 'Invalid pk "999999" - object does not exist.'}
    ]


@pytest.mark.parametrize(
    "graph",
    [
        {"shapes": [{"id": 5, "type": "trigger"}], "connections": []},
        {"shapes": [{"id": "t", "type": ["trigger"], "settings": "x"}], "connections": [{"source": None}]},
        {"shapes": [{"id": "t", "type": "trigger", "settings": {"kind": {"x": 1}}}], "connections": []},
        {
            "shapes": [{"id": "t", "type": "trigger", "settings": {"kind": "manual"}, "position": "here"}],
            "connections": [{"source": "t", "target": ["t"]}],
        },
        {
            "shapes": [{"id": "t", "type": "trigger", "settings": {"kind": "manual"}}],
            "connections": [
                {"source": "t", "target": "x", "label": ["a"]},
                {"source": "t", "target": "x", "label": ["a"]},
            ],
        },
        {"shapes": [{"id": "m", "type": "map", "settings": {"mappings": [1, "x", None]}}], "connections": []},
        {
            "shapes": [
                {
                    "id": "c",
                    "type": "connector",
                    "settings": {"connector": True, "endpoint": -1, "variables": [1]},
                }
            ],
            "connections": [],
        },
    ],
)
def test_garbage_graphs_get_errors_not_crashes(editor_client, orders_flow, graph) -> None:
    saved = editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", graph, format="json")
    assert saved.status_code == 200
    assert saved.json()["errors"]
    checked = editor_client.post(f"/api/flows/{orders_flow.pk}/validate/", graph, format="json")
    assert checked.status_code == 400
    assert all(set(e) == {"shape", "setting", "message"} for e in checked.json()["errors"])


JUNK = [None, True, 0, -1, 1.5, "", "x", [], [1, "a"], {}, {"a": [None]}, "[[", "items[", 10**20]


def _mutations(value, rng, depth: int = 0):
    """Copies of `value` with one nested value replaced by junk (or a key dropped)."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        mutated = dict(value)
        if rng.random() < 0.2:
            del mutated[key]
        elif rng.random() < 0.5 or depth > 6:
            mutated[key] = rng.choice(JUNK)
        else:
            mutated[key] = _mutations(value[key], rng, depth + 1)
        return mutated
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        mutated = list(value)
        mutated[index] = rng.choice(JUNK) if rng.random() < 0.5 else _mutations(value[index], rng, depth + 1)
        return mutated
    return rng.choice(JUNK)


def test_mutated_graphs_always_get_well_formed_errors(
    orders_flow, shop, get_order, erp_post, tidy_script
) -> None:
    import random

    from designer.graph import validate_graph
    from tests.designer.test_graph_validation import full_graph

    context = {
        "shop": shop.pk,
        "get_order": get_order.pk,
        "tidy": tidy_script.pk,
        "other_flow": orders_flow.pk,
    }
    base = full_graph(context)
    rng = random.Random(20261129)
    for _ in range(400):
        graph = base
        for _ in range(rng.randint(1, 3)):
            graph = _mutations(graph, rng)
        errors = validate_graph(graph, flow=None)
        assert isinstance(errors, list)
        for error in errors:
            assert set(error) == {"shape", "setting", "message"}
            assert error["shape"] is None or isinstance(error["shape"], str)
            assert isinstance(error["message"], str) and error["message"]
