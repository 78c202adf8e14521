"""The engine walks a deployed graph: steps, payloads, final payload, insights, events and the run log."""

from __future__ import annotations

import json

import pytest

from runs import services
from runs.engine import execute_run
from runs.models import LogLine, Payload, Run, Step
from runs.payloads import read_payload
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.usefixtures("fast_retries")


def test_a_manual_run_walks_every_shape_and_ends_succeeded(make_flow):
    flow = make_flow(
        [
            shape(
                "wrap",
                "manual_payload",
                payload='{"order": "[[payload.id]]", "who": "[[flow.variables.who]]"}',
            ),
            shape("note", "notify", message="Order [[payload.order]] done"),
        ],
        variables={"who": "default"},
    )
    run = services.enqueue_run(flow=flow, trigger="manual", payload='{"id": 42}', variables={"who": "erin"})
    assert run.priority == 0 and run.variables == {"who": "erin"}

    run = run_once(run)

    assert run.status == Run.Status.SUCCEEDED
    assert json.loads(run.final_payload) == {"order": "42", "who": "erin"}
    steps = list(run.steps.order_by("id"))
    assert [s.shape_id for s in steps] == ["trigger", "wrap", "note"]
    assert all(s.status == Step.Status.SUCCEEDED and s.attempts == 1 for s in steps)
    messages = list(run.log_lines.values_list("message", flat=True))
    assert "Order 42 done" in messages
    seqs = list(run.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert run.insights["steps"] == 3 and run.insights["duration_ms"] >= 0
    assert run.finished_at is not None and run.lease_owner == "" and run.checkpoint == {}
    assert not run.work_items.exists()


def test_every_step_keeps_its_input_and_output_payloads(make_flow):
    flow = make_flow([shape("wrap", "manual_payload", payload="hello [[payload.name]]", meta={"k": "v"})])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"name": "Ada"}'))

    wrap = run.steps.get(shape_id="wrap")
    stored_input = wrap.payloads.get(direction=Payload.Direction.INPUT)
    stored_output = wrap.payloads.get(direction=Payload.Direction.OUTPUT)
    assert read_payload(stored_input) == '{"name": "Ada"}'
    assert read_payload(stored_output) == "hello Ada"
    assert stored_output.meta == {"k": "v"}


def test_a_large_payload_is_kept_in_storage_not_in_the_row(make_flow):
    big = json.dumps({"blob": "x" * 300_000})
    flow = make_flow([shape("note", "notify", message="got it")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=big))

    assert run.status == Run.Status.SUCCEEDED
    stored = Payload.objects.filter(run=run, step__shape_id="note", direction="output").get()
    assert stored.body is None and stored.file and stored.size == len(big)
    assert read_payload(stored) == big
    assert run.final_payload == big


def test_an_oversized_payload_fails_the_step_naming_the_limit(make_flow, settings):
    settings.PATCHBAY_MAX_PAYLOAD_BYTES = 1000
    flow = make_flow([shape("grow", "manual_payload", payload="[[payload.text]][[payload.text]]")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=json.dumps({"text": "y" * 600})))

    assert run.status == Run.Status.FAILED
    step = run.steps.get(shape_id="grow")
    assert step.status == Step.Status.FAILED
    assert "exceeds the limit of 1000 bytes" in step.error and "PATCHBAY_MAX_PAYLOAD_BYTES" in step.error


def test_placeholders_read_payload_keys_named_like_dict_methods(make_flow):
    flow = make_flow([shape("wrap", "manual_payload", payload="[[payload.items]] [[payload.keys]]")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"items": [1, 2], "keys": "k"}'))
    assert run.final_payload == "[1, 2] k"


def test_templates_cannot_reach_python_internals(make_flow):
    flow = make_flow([shape("wrap", "manual_payload", payload="[[ meta.__class__.__mro__ ]]")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="{}"))
    assert run.status == Run.Status.FAILED
    assert "__class__" in run.error


def test_an_undefined_placeholder_fails_the_step_and_names_it(make_flow):
    flow = make_flow([shape("wrap", "manual_payload", payload="[[payload.missing.deeper]]")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"present": 1}'))

    assert run.status == Run.Status.FAILED
    assert "[[payload.missing.deeper]]" in run.steps.get(shape_id="wrap").error
    assert run.log_lines.filter(level=LogLine.Level.ERROR, message__contains="payload.missing").exists()


def test_a_disabled_or_undeployed_flow_refuses_to_enqueue(make_flow):
    from designer.services import create_flow
    from runs.errors import RunRefused

    flow = make_flow([], enabled=False)
    with pytest.raises(RunRefused, match="disabled"):
        services.enqueue_run(flow=flow, trigger="api")
    draft_only = create_flow(name="Draft only")
    with pytest.raises(RunRefused, match="no deployed version"):
        services.enqueue_run(flow=draft_only, trigger="api")


def test_execute_run_does_nothing_for_a_run_this_worker_did_not_claim(make_flow):
    flow = make_flow([])
    run = services.enqueue_run(flow=flow, trigger="api")
    execute_run(run.pk, worker_id="nobody")
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and not run.steps.exists()


def test_a_stop_requested_while_running_ends_the_run_after_the_current_step(make_flow):
    flow = make_flow([shape("one", "notify", message="one"), shape("two", "notify", message="two")])
    run = services.enqueue_run(flow=flow, trigger="api")
    services.claim_run(run_id=run.pk, worker_id="w")
    services.stop_run(run=run)
    execute_run(run.pk, worker_id="w")
    run.refresh_from_db()

    assert run.status == Run.Status.STOPPED and run.finished_at is not None
    assert list(run.steps.values_list("shape_id", flat=True)) == ["trigger"]
