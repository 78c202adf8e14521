"""Each pagination style emits one payload per page and stops at the last page or at max_pages."""

from __future__ import annotations

import json

import httpx
import pytest

from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def paged_flow(make_flow, make_connector, make_endpoint):
    def factory(pagination: dict, **shape_settings):
        connector = make_connector(base_url="https://api.example.test")
        endpoint = make_endpoint(connector, path="/items", pagination=pagination)
        return make_flow(
            [shape("list", "connector", connector=connector.pk, endpoint=endpoint.pk, **shape_settings)]
        )

    return factory


def pages_of(run: Run) -> list:
    step = run.steps.get(shape_id="list")
    outputs = step.payloads.filter(direction="output").order_by("index")
    return [(json.loads(p.body), p.meta["page"]) for p in outputs]


def test_page_number_pagination_stops_at_a_short_page(paged_flow, upstream):
    data = {"1": [1, 2], "2": [3, 4], "3": [5]}
    upstream.add(
        "GET /items",
        lambda r: httpx.Response(
            200, json={"items": data.get(r.url.params["p"], []), "n": r.url.params["size"]}
        ),
    )
    flow = paged_flow(
        {
            "style": "page_number",
            "page_param": "p",
            "size_param": "size",
            "page_size": 2,
            "items_path": "items",
        }
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert run.status == Run.Status.SUCCEEDED
    assert [body["items"] for body, _ in pages_of(run)] == [[1, 2], [3, 4], [5]]
    assert [page for _, page in pages_of(run)] == ["1", "2", "3"]
    assert [r.url.params["p"] for r in upstream.requests] == ["1", "2", "3"]
    assert run.steps.get(shape_id="list").outputs == 3


def test_page_number_without_page_size_stops_at_an_empty_page(paged_flow, upstream):
    data = {"1": [1], "2": [2]}
    upstream.add("GET /items", lambda r: httpx.Response(200, json=data.get(r.url.params["page"], [])))
    run = run_once(
        services.enqueue_run(flow=paged_flow({"style": "page_number", "page_param": "page"}), trigger="api")
    )
    assert [body for body, _ in pages_of(run)] == [[1], [2], []]


def test_offset_limit_pagination(paged_flow, upstream):
    rows = list(range(7))

    def page(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json={"rows": rows[offset : offset + limit]})

    upstream.add("GET /items", page)
    flow = paged_flow(
        {
            "style": "offset_limit",
            "offset_param": "offset",
            "limit_param": "limit",
            "limit": 3,
            "items_path": "rows",
        }
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert [body["rows"] for body, _ in pages_of(run)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [r.url.params["offset"] for r in upstream.requests] == ["0", "3", "6"]


def test_next_url_in_the_body(paged_flow, upstream):
    bodies = {
        "/items": {"data": [1], "links": {"next": "/items/page2?x=1"}},
        "/items/page2": {"data": [2], "links": {"next": "https://api.example.test/items/page3"}},
        "/items/page3": {"data": [3], "links": {"next": None}},
    }
    for path, body in bodies.items():
        upstream.add(f"GET {path}", body)
    flow = paged_flow({"style": "next_url", "next_path": "links.next"})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    assert [body["data"] for body, _ in pages_of(run)] == [[1], [2], [3]]
    assert upstream.requests[1].url.params["x"] == "1"


def test_link_header(paged_flow, upstream):
    upstream.add(
        "GET /items",
        lambda r: httpx.Response(
            200,
            json=[r.url.params.get("page", "1")],
            headers={"Link": '<https://api.example.test/items?page=2>; rel="next"'}
            if r.url.params.get("page") != "2"
            else {"Link": '<https://api.example.test/items?page=1>; rel="prev"'},
        ),
    )
    run = run_once(services.enqueue_run(flow=paged_flow({"style": "link_header"}), trigger="api"))
    assert [body for body, _ in pages_of(run)] == [["1"], ["2"]]


def test_cursor_pagination(paged_flow, upstream):
    chain = {None: ("a", "c1"), "c1": ("b", "c2"), "c2": ("c", None)}

    def page(request: httpx.Request) -> httpx.Response:
        value, cursor = chain[request.url.params.get("after")]
        return httpx.Response(200, json={"value": value, "meta": {"cursor": cursor}})

    upstream.add("GET /items", page)
    flow = paged_flow({"style": "cursor", "cursor_param": "after", "cursor_path": "meta.cursor"})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert [body["value"] for body, _ in pages_of(run)] == ["a", "b", "c"]


def test_max_pages_caps_the_pages_with_a_warning(paged_flow, upstream):
    upstream.add("GET /items", lambda r: httpx.Response(200, json=[int(r.url.params["page"])]))
    run = run_once(
        services.enqueue_run(
            flow=paged_flow({"style": "page_number", "page_param": "page"}, max_pages=4), trigger="api"
        )
    )

    assert run.status == Run.Status.SUCCEEDED
    assert len(pages_of(run)) == 4 and len(upstream.requests) == 4
    assert run.log_lines.filter(level="warning", message__contains="max_pages (4)").exists()


def test_every_page_goes_to_the_next_shape(make_flow, make_connector, make_endpoint, upstream):
    connector = make_connector(base_url="https://api.example.test")
    endpoint = make_endpoint(
        connector,
        path="/items",
        pagination={"style": "cursor", "cursor_param": "cursor", "cursor_path": "next_cursor"},
    )
    chain = {None: ("a", "n1"), "n1": ("b", None)}
    upstream.add(
        "GET /items",
        lambda r: httpx.Response(
            200,
            json={
                "v": chain[r.url.params.get("cursor")][0],
                "next_cursor": chain[r.url.params.get("cursor")][1],
            },
        ),
    )
    flow = make_flow(
        [
            shape("list", "connector", connector=connector.pk, endpoint=endpoint.pk),
            shape("pick", "map", mappings=[{"source": "v", "target": "value"}]),
        ]
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert run.steps.filter(shape_id="pick").count() == 2
    assert json.loads(run.final_payload) == {"value": "b"}


def test_a_page_that_is_not_json_fails_cursor_pagination_clearly(paged_flow, upstream):
    upstream.add("GET /items", httpx.Response(200, text="<html>oops</html>"))
    flow = paged_flow({"style": "cursor", "cursor_param": "cursor", "cursor_path": "next_cursor"})
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert run.status == Run.Status.FAILED
    assert "needs a JSON response body" in run.error
