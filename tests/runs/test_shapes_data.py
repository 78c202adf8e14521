"""Shapes that change payloads or act on the side: script, map, set variables, manual payload, notify,
run flow."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


def test_script_shape_output_meta_flow_variables_and_logs(make_flow, make_script):
    script = make_script(
        "import json\n"
        "def handle(data):\n"
        "    order = json.loads(data['payload'])\n"
        "    print('total is', order['total'])\n"
        "    data['payload'] = json.dumps({'total': order['total'] * 2})\n"
        "    data['meta']['doubled'] = 'yes'\n"
        "    data['flow']['variables']['seen'] = 'true'\n"
        "    data['logs'] = ['doubled it']\n"
        "    return data\n"
    )
    flow = make_flow(
        [
            shape("double", "script", script=script.pk),
            shape(
                "after",
                "manual_payload",
                payload="[[payload.total]] [[meta.doubled]] [[flow.variables.seen]]",
            ),
        ]
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"total": 21}'))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.final_payload == "42 yes true"
    logs = list(run.log_lines.values_list("message", flat=True))
    assert any(line.endswith("total is 21") for line in logs)
    assert any(line.endswith("doubled it") for line in logs)
    assert run.insights["script_cpu_ms"] >= 0


def test_a_script_that_raises_fails_the_step_naming_the_line(make_flow, make_script):
    script = make_script("def handle(data):\n    x = 1\n    raise ValueError('bad order')\n", name="Strict")
    flow = make_flow([shape("s", "script", script=script.pk)])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="{}"))
    assert run.status == Run.Status.FAILED
    assert "Strict" in run.error and "line 3" in run.error and "bad order" in run.error


def test_map_builds_an_object_with_transforms_and_defaults(make_flow, make_script):
    plus_one = make_script(
        "import json\n"
        "def handle(data):\n"
        "    data['payload'] = json.dumps(json.loads(data['payload']) + 1)\n"
        "    return data\n"
    )
    mappings = [
        {"source": "customer.name", "target": "buyer.name", "transform": "upper"},
        {"source": "customer.email", "target": "buyer.email", "transform": "lower"},
        {"source": "note", "target": "note", "transform": "trim"},
        {"source": "total", "target": "total", "transform": "number"},
        {"source": "qty", "target": "qty", "transform": "integer"},
        {"source": "gift", "target": "gift", "transform": "boolean"},
        {"source": "lines", "target": "line_count", "transform": "length"},
        {"source": "id", "target": "id_text", "transform": "string"},
        {"source": "extra", "target": "extra", "transform": "json"},
        {"source": "missing", "target": "status", "default": "new"},
        {"source": "count", "target": "next_count", "transform": "script", "script": plus_one.pk},
    ]
    flow = make_flow([shape("map", "map", mappings=mappings)])
    source = {
        "id": 17,
        "customer": {"name": "Ada", "email": "ADA@EXAMPLE.TEST"},
        "note": "  fragile  ",
        "total": "12.50",
        "qty": "3",
        "gift": "yes",
        "lines": [1, 2],
        "extra": '{"a": 1}',
        "count": 3,
    }
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=json.dumps(source)))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert json.loads(run.final_payload) == {
        "buyer": {"name": "ADA", "email": "ada@example.test"},
        "note": "fragile",
        "total": 12.5,
        "qty": 3,
        "gift": True,
        "line_count": 2,
        "id_text": "17",
        "extra": {"a": 1},
        "status": "new",
        "next_count": 4,
    }


def test_map_merge_output_keeps_the_input_fields(make_flow):
    flow = make_flow([shape("map", "map", output="merge", mappings=[{"source": "a", "target": "copy.a"}])])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"a": 1, "b": 2}'))
    assert json.loads(run.final_payload) == {"a": 1, "b": 2, "copy": {"a": 1}}


def test_map_of_a_non_number_fails_the_step_naming_the_target(make_flow):
    flow = make_flow(
        [shape("map", "map", mappings=[{"source": "a", "target": "amount", "transform": "number"}])]
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"a": "lots"}'))
    assert run.status == Run.Status.FAILED and "'amount'" in run.error


def test_set_variables_sets_flow_variables_for_the_rest_of_the_run_and_meta(make_flow):
    flow = make_flow(
        [
            shape(
                "set",
                "set_variables",
                variables=[
                    {"name": "order", "value": "[[payload.id]]", "scope": "flow"},
                    {"name": "source", "value": "shop-[[flow.variables.region]]", "scope": "meta"},
                ],
            ),
            shape("replace", "manual_payload", payload="other"),
            shape("show", "manual_payload", payload="[[flow.variables.order]] [[meta.source]] [[payload]]"),
        ],
        variables={"region": "eu"},
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": "A7"}'))
    assert run.final_payload == "A7 shop-eu other"
    set_output = run.steps.get(shape_id="set").payloads.get(direction="output")
    assert set_output.body == '{"id": "A7"}' and set_output.meta == {"source": "shop-eu"}


def test_manual_payload_renders_text_and_meta(make_flow):
    flow = make_flow(
        [shape("m", "manual_payload", payload="<a>[[variables.x]]</a>", meta={"kind": "[[payload.k]]"})]
    )
    run = run_once(
        services.enqueue_run(flow=flow, trigger="api", payload='{"k": "xml"}', variables={"x": "1"})
    )
    # Shape-level `variables` are empty for manual payloads: the undefined placeholder is named.
    assert run.status == Run.Status.FAILED and "[[variables.x]]" in run.error


def test_notify_logs_at_the_level_and_sends_email(make_flow):
    flow = make_flow(
        [
            shape(
                "n",
                "notify",
                message="Order [[payload.id]] needs attention",
                level="warning",
                email={"to": ["ops@example.test"], "subject": "Order [[payload.id]]"},
            )
        ]
    )
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": 9}'))

    assert run.status == Run.Status.SUCCEEDED
    assert run.log_lines.filter(level="warning", message="Order 9 needs attention").exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Order 9" and mail.outbox[0].to == ["ops@example.test"]
    assert mail.outbox[0].body == "Order 9 needs attention"
    assert run.final_payload == '{"id": 9}'


def test_run_flow_queues_the_called_flow_with_this_payload(make_flow):
    child = make_flow([shape("wrap", "manual_payload", payload="child got [[payload.n]]")], priority=4)
    parent = make_flow([shape("call", "run_flow", flow=child.pk)])
    run = run_once(services.enqueue_run(flow=parent, trigger="api", payload='{"n": 5}', meta={"m": "1"}))

    assert run.status == Run.Status.SUCCEEDED and run.final_payload == '{"n": 5}'
    queued = Run.objects.get(parent_run=run)
    assert queued.flow == child and queued.trigger == "run_flow" and queued.priority == 4
    assert queued.input_payload == '{"n": 5}' and queued.input_meta == {"m": "1"}
    assert run_once(queued).final_payload == "child got 5"


def test_run_flow_of_a_disabled_flow_fails_the_step(make_flow):
    child = make_flow([], enabled=False)
    parent = make_flow([shape("call", "run_flow", flow=child.pk, pass_payload=False)])
    run = run_once(services.enqueue_run(flow=parent, trigger="api", payload="x"))
    assert run.status == Run.Status.FAILED and "disabled" in run.error
