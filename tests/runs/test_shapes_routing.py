"""Shapes that decide where payloads go: filter, route, branch, split, flow control, try / catch, assert."""

from __future__ import annotations

import json

import pytest

from runs import services
from runs.models import Run, Step
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


def finals(run: Run, shape_id: str) -> list:
    """Output payloads of every step of `shape_id`, in execution order."""
    bodies = []
    for step in run.steps.filter(shape_id=shape_id).order_by("id"):
        for payload in step.payloads.filter(direction="output").order_by("index"):
            bodies.append(payload.body)
    return bodies


def cond(path: str, operator: str, value=None, source: str = "payload") -> dict:
    return {"source": source, "path": path, "operator": operator, "value": value}


def test_filter_keeps_matching_payloads_and_drops_others_with_an_info_line(make_flow):
    flow = make_flow(
        [
            shape("split", "split", path="orders"),
            shape(
                "paid",
                "filter",
                conditions=[cond("status", "equals", "paid"), cond("total", "greater_than", 10)],
            ),
            shape("out", "notify", message="[[payload.id]]"),
        ]
    )
    orders = [
        {"id": 1, "status": "paid", "total": "20"},
        {"id": 2, "status": "open", "total": 50},
        {"id": 3, "status": "paid", "total": 5},
    ]
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=json.dumps({"orders": orders})))

    assert run.status == Run.Status.SUCCEEDED
    assert finals(run, "out") == [json.dumps(orders[0])]
    assert run.log_lines.filter(level="info", message__contains="dropped a payload").count() == 2


def test_filter_with_keep_matching_false_passes_the_others(make_flow):
    flow = make_flow(
        [shape("f", "filter", keep_matching=False, match="any", conditions=[cond("tag", "in", ["a", "b"])])]
    )
    kept = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"tag": "c"}'))
    dropped = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"tag": "a"}'))
    assert kept.final_payload == '{"tag": "c"}' and dropped.final_payload is None


@pytest.mark.parametrize(
    ("operator", "actual", "value", "expected"),
    [
        ("equals", 10, "10.0", True),
        ("not_equals", "a", "b", True),
        ("contains", ["x", "y"], "y", True),
        ("contains", "hello world", "lo w", True),
        ("not_contains", "hello", "z", True),
        ("starts_with", "ORD-1", "ORD", True),
        ("ends_with", "file.csv", ".xml", False),
        ("greater_or_equal", "9", 10, False),
        ("less_than", 2, "10", True),
        ("less_or_equal", "2024-01-01", "2024-02-01", True),
        ("in", 3, [1, 2, 3], True),
        ("matches", "AB-123", r"^[A-Z]{2}-\d+$", True),
        ("exists", None, None, False),
        ("not_exists", None, None, True),
        ("is_empty", [], None, True),
        ("is_not_empty", "x", None, True),
    ],
)
def test_every_condition_operator(make_flow, operator, actual, value, expected):
    flow = make_flow([shape("f", "filter", conditions=[cond("v", operator, value)])])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=json.dumps({"v": actual})))
    assert (run.final_payload is not None) is expected


def test_conditions_on_meta_and_flow_variables(make_flow):
    flow = make_flow(
        [
            shape("set", "set_variables", variables=[{"name": "mode", "value": "live", "scope": "flow"}]),
            shape(
                "f",
                "filter",
                conditions=[
                    cond("region", "equals", "eu", source="meta"),
                    cond("mode", "equals", "live", "variables"),
                ],
            ),
        ]
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="x", meta={"region": "eu"}))
    assert run.final_payload == "x"


def test_route_sends_a_payload_down_the_first_matching_route_only(make_flow):
    flow = make_flow(
        [
            shape("split", "split"),
            shape(
                "route",
                "route",
                routes=[
                    {"label": "big", "conditions": [cond("n", "greater_than", 100)]},
                    {"label": "even", "conditions": [cond("even", "equals", True)]},
                    {"label": "odd-small", "conditions": [cond("n", "less_than", 10)]},
                ],
            ),
            shape("big", "notify", message="big"),
            shape("even", "notify", message="even"),
            shape("small", "notify", message="small"),
        ],
        [
            {"source": "trigger", "target": "split"},
            {"source": "split", "target": "route"},
            {"source": "route", "target": "big", "label": "big"},
            {"source": "route", "target": "even", "label": "even"},
            {"source": "route", "target": "small", "label": "odd-small"},
        ],
    )
    items = [
        {"n": 200, "even": True},
        {"n": 4, "even": True},
        {"n": 3, "even": False},
        {"n": 51, "even": False},
    ]
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=json.dumps(items)))

    assert run.status == Run.Status.SUCCEEDED
    assert [json.loads(b)["n"] for b in finals(run, "big")] == [200]
    assert [json.loads(b)["n"] for b in finals(run, "even")] == [4]
    assert [json.loads(b)["n"] for b in finals(run, "small")] == [3]
    assert run.log_lines.filter(level="warning", message__contains="no route matched").count() == 1


@pytest.mark.parametrize("settings", [{"mode": "parallel", "routes": [{"label": "a"}, {"label": "b"}]}, {}])
def test_parallel_route_or_no_routes_sends_every_payload_everywhere(make_flow, settings):
    labels = [r["label"] for r in settings.get("routes", [])] or [None, None]
    connections = [{"source": "trigger", "target": "route"}]
    for target, label in zip(["a", "b"], labels, strict=True):
        connection = {"source": "route", "target": target}
        if label:
            connection["label"] = label
        connections.append(connection)
    flow = make_flow(
        [
            shape("route", "route", **settings),
            shape("a", "notify", message="a"),
            shape("b", "notify", message="b"),
        ],
        connections,
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="p"))
    assert finals(run, "a") == ["p"] and finals(run, "b") == ["p"]


def branch_flow(make_flow, second_branch_fails: bool = False, with_try: bool = False):
    fail_condition = [cond("never", "exists")] if second_branch_fails else [cond("@", "exists")]
    shapes = [
        shape("branch", "branch"),
        shape("b1", "manual_payload", payload="one"),
        shape("b1-next", "notify", message="after one"),
        shape("b2", "assert", conditions=fail_condition, message="branch two broke"),
        shape("b3", "manual_payload", payload="three"),
    ]
    connections = [
        {"source": "branch", "target": "b3", "order": 3},
        {"source": "branch", "target": "b1", "order": 1},
        {"source": "branch", "target": "b2", "order": 2},
        {"source": "b1", "target": "b1-next"},
    ]
    if with_try:
        shapes.insert(0, shape("try", "try_catch"))
        shapes.append(shape("handler", "notify", message="caught [[meta.error]] at [[meta.error_shape]]"))
        connections += [
            {"source": "trigger", "target": "try"},
            {"source": "try", "target": "branch", "label": "try"},
            {"source": "try", "target": "handler", "label": "catch"},
        ]
    else:
        connections.append({"source": "trigger", "target": "branch"})
    return make_flow(shapes, connections)


def test_branch_runs_each_branch_path_to_the_end_in_order(make_flow):
    run = run_once(services.enqueue_run(flow=branch_flow(make_flow), trigger="api", payload='{"x": 1}'))

    assert run.status == Run.Status.SUCCEEDED
    order = list(
        run.steps.exclude(shape_id__in=["trigger", "branch"])
        .order_by("id")
        .values_list("shape_id", flat=True)
    )
    assert order == ["b1", "b1-next", "b2", "b3"]
    assert run.final_payload == "three"


def test_a_failure_in_a_branch_stops_the_later_branches(make_flow):
    flow = branch_flow(make_flow, second_branch_fails=True, with_try=True)
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"x": 1}'))

    assert run.status == Run.Status.PARTIAL_SUCCESS
    assert not run.steps.filter(shape_id="b3").exists()
    assert run.steps.get(shape_id="b2").status == Step.Status.FAILED
    assert "caught branch two broke at b2" in run.log_lines.values_list("message", flat=True)


def test_an_uncaught_failure_fails_the_run_and_drops_pending_work(make_flow):
    run = run_once(
        services.enqueue_run(
            flow=branch_flow(make_flow, second_branch_fails=True), trigger="api", payload="{}"
        )
    )
    assert run.status == Run.Status.FAILED and run.error == "branch two broke"
    assert not run.steps.filter(shape_id="b3").exists()


def try_flow(make_flow, partial_success: bool = True, with_catch: bool = True):
    shapes = [
        shape("split", "split"),
        shape("try", "try_catch", partial_success=partial_success),
        shape(
            "check",
            "assert",
            conditions=[cond("ok", "equals", True)],
            message="item [[payload.id]] is not ok",
        ),
        shape("done", "notify", message="done [[payload.id]]"),
    ]
    connections = [
        {"source": "trigger", "target": "split"},
        {"source": "split", "target": "try"},
        {"source": "try", "target": "check", "label": "try"},
        {"source": "check", "target": "done"},
    ]
    if with_catch:
        shapes.append(
            shape("catch", "manual_payload", payload="[[meta.error]] / [[meta.error_shape]] / [[payload.id]]")
        )
        connections.append({"source": "try", "target": "catch", "label": "catch"})
    return make_flow(shapes, connections)


ITEMS = json.dumps([{"id": 1, "ok": True}, {"id": 2, "ok": False}, {"id": 3, "ok": True}])


def test_try_catch_sends_the_failed_payload_down_catch_and_the_run_ends_partial(make_flow):
    run = run_once(services.enqueue_run(flow=try_flow(make_flow), trigger="api", payload=ITEMS))

    assert run.status == Run.Status.PARTIAL_SUCCESS
    assert [json.loads(b)["id"] for b in finals(run, "done")] == [1, 3]
    assert finals(run, "catch") == ["item 2 is not ok / check / 2"]
    assert run.log_lines.filter(level="warning", message__contains="caught by try/catch").count() == 1


def test_try_catch_without_partial_success_ends_succeeded(make_flow):
    run = run_once(
        services.enqueue_run(flow=try_flow(make_flow, partial_success=False), trigger="api", payload=ITEMS)
    )
    assert run.status == Run.Status.SUCCEEDED


def test_try_catch_without_a_catch_path_swallows_the_failure(make_flow):
    run = run_once(
        services.enqueue_run(flow=try_flow(make_flow, with_catch=False), trigger="api", payload=ITEMS)
    )
    assert run.status == Run.Status.PARTIAL_SUCCESS
    assert run.log_lines.filter(message__contains="there is no catch path").exists()


def test_split_formats(make_flow):
    def split(settings: dict, payload: str) -> list:
        flow = make_flow([shape("s", "split", **settings)])
        run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=payload))
        assert run.status == Run.Status.SUCCEEDED, run.error
        return finals(run, "s")

    assert split({"path": "data.items"}, '{"data": {"items": [{"a": 1}, 2, "x"]}}') == [
        '{"a": 1}',
        "2",
        '"x"',
    ]
    assert split({"format": "lines"}, "one\ntwo\n\nthree\n") == ["one", "two", "three"]
    assert split({"format": "csv"}, "id,name\n1,Ada\n2,Bob\n") == ["id,name\n1,Ada\n", "id,name\n2,Bob\n"]
    assert split({"format": "csv", "header": False}, "1,Ada\n2,Bob\n") == ["1,Ada\n", "2,Bob\n"]
    xml = "<orders><order id='1'><n>a</n></order><order id='2'/></orders>"
    assert split({"format": "xml", "element": "order"}, xml) == [
        '<order id="1"><n>a</n></order>',
        '<order id="2" />',
    ]


def test_split_of_a_non_list_fails_clearly(make_flow):
    flow = make_flow([shape("s", "split", path="data")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"data": 5}'))
    assert run.status == Run.Status.FAILED and "does not point to a list" in run.error


def test_flow_control_batches_a_list(make_flow):
    flow = make_flow([shape("batch", "flow_control", size=2, path="rows")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"rows": [1, 2, 3, 4, 5]}'))
    assert finals(run, "batch") == ["[1, 2]", "[3, 4]", "[5]"]


def test_assert_passes_matching_payloads(make_flow):
    flow = make_flow([shape("a", "assert", conditions=[cond("id", "exists")], message="no id")])
    ok = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": 1}'))
    bad = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"other": 1}'))
    assert ok.status == Run.Status.SUCCEEDED and bad.status == Run.Status.FAILED and bad.error == "no id"
