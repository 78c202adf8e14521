"""A run whose worker dies mid-step resumes from its checkpoint on another worker and finishes: no step is
lost, and only the interrupted step runs again."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from runs import services
from runs.engine import execute_run
from runs.models import LogLine, Run, Step, WorkItem
from tests.runs.conftest import shape

pytestmark = pytest.mark.usefixtures("fast_retries")


class WorkerDied(BaseException):
    """Stands in for the process being killed: not an Exception, so nothing in the engine handles it."""


@pytest.fixture
def three_calls(make_flow, make_connector, make_endpoint):
    connector = make_connector(base_url="https://wms.example.test")
    shapes = [
        shape(
            name, "connector", connector=connector.pk, endpoint=make_endpoint(connector, path=f"/{name}").pk
        )
        for name in ("a", "b")
    ]
    return make_flow([*shapes, shape("c", "notify", message="done")])


def test_a_run_whose_worker_died_mid_step_resumes_from_its_checkpoint(three_calls, upstream):
    calls = {"b": 0}

    def b(request: httpx.Request) -> httpx.Response:
        calls["b"] += 1
        if calls["b"] == 1:
            raise WorkerDied
        return httpx.Response(200, json={"b": "ok"})

    upstream.add("GET /a", {"a": "ok"})
    upstream.add("GET /b", b)
    run = services.enqueue_run(flow=three_calls, trigger="api", payload="{}")
    services.claim_run(run_id=run.pk, worker_id="doomed")
    with pytest.raises(WorkerDied):
        execute_run(run.pk, worker_id="doomed")

    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.lease_owner == "doomed"
    assert [item.data["shape"] for item in run.work_items.all()] == ["b"]

    # Time passes, the lease runs out, a sweeper requeues the run and another worker takes it.
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired_leases() == 1
    assert services.claim_run(run_id=run.pk, worker_id="survivor") is not None
    execute_run(run.pk, worker_id="survivor")
    run.refresh_from_db()

    assert run.status == Run.Status.SUCCEEDED
    assert len(upstream.calls("GET /a")) == 1, "the finished step before the crash is not run again"
    assert len(upstream.calls("GET /b")) == 2, "only the interrupted step runs again"
    steps = {s.shape_id: s for s in run.steps.all()}
    assert sorted(steps) == ["a", "b", "c", "trigger"] and run.steps.count() == 4
    assert steps["a"].attempts == 1 and steps["b"].attempts == 2 and steps["c"].attempts == 1
    assert all(s.status == Step.Status.SUCCEEDED for s in steps.values())
    messages = list(run.log_lines.values_list("message", flat=True))
    assert "Lease expired; resuming from checkpoint" in messages
    assert any("resumed after an interrupted attempt" in m for m in messages)
    seqs = list(run.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_worker_that_lost_its_lease_writes_nothing_more(three_calls, upstream):
    upstream.add("GET /a", {"a": "ok"})
    upstream.add("GET /b", {"b": "ok"})
    run = services.enqueue_run(flow=three_calls, trigger="api", payload="{}")
    stale = services.claim_run(run_id=run.pk, worker_id="stale")
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    services.requeue_expired_leases()
    services.claim_run(run_id=run.pk, worker_id="fresh")

    assert services.renew_lease(run=stale, worker_id="stale") is False
    execute_run(run.pk, worker_id="stale")
    assert not Step.objects.filter(run=run).exists()

    execute_run(run.pk, worker_id="fresh")
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.steps.count() == 4


def test_an_unexpected_engine_error_fails_the_run_with_an_error_line(make_flow):
    flow = make_flow([shape("note", "notify", message="hi")])
    run = services.enqueue_run(flow=flow, trigger="api")
    services.claim_run(run_id=run.pk, worker_id="w")
    # A checkpoint pointing at a shape the version does not have: nothing a flow can do, an engine bug.
    Run.objects.filter(pk=run.pk).update(checkpoint={"started": True})
    WorkItem.objects.create(
        run=run, data={"shape": "ghost", "index": 0, "payload": None, "meta": {}, "scopes": []}
    )
    execute_run(run.pk, worker_id="w")
    run.refresh_from_db()

    assert run.status == Run.Status.FAILED and run.error.startswith("Internal engine error")
    assert run.log_lines.filter(level=LogLine.Level.ERROR, message__contains="Internal engine error").exists()


def test_a_crash_in_the_middle_of_split_items_resumes_with_the_remaining_items(
    make_flow, make_connector, make_endpoint, upstream
):
    connector = make_connector(base_url="https://wms.example.test")
    endpoint = make_endpoint(connector, path="/items/[[payload.n]]")
    flow = make_flow(
        [shape("split", "split"), shape("post", "connector", connector=connector.pk, endpoint=endpoint.pk)]
    )
    seen: list[str] = []

    def item(request: httpx.Request) -> httpx.Response:
        n = request.url.path.rsplit("/", 1)[1]
        seen.append(n)
        if seen.count("3") == 1 and n == "3":
            raise WorkerDied
        return httpx.Response(200, json={"n": n})

    for n in range(1, 6):
        upstream.add(f"GET /items/{n}", item)
    payload = "[" + ", ".join(f'{{"n": {n}}}' for n in range(1, 6)) + "]"
    run = services.enqueue_run(flow=flow, trigger="api", payload=payload)
    services.claim_run(run_id=run.pk, worker_id="doomed")
    with pytest.raises(WorkerDied):
        execute_run(run.pk, worker_id="doomed")
    assert run.work_items.count() == 3, "items 3, 4 and 5 are still pending"

    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    services.requeue_expired_leases()
    services.claim_run(run_id=run.pk, worker_id="survivor")
    execute_run(run.pk, worker_id="survivor")
    run.refresh_from_db()

    assert run.status == Run.Status.SUCCEEDED
    assert seen == ["1", "2", "3", "3", "4", "5"]
    assert sorted(run.steps.filter(shape_id="post").values_list("input_index", flat=True)) == [0, 1, 2, 3, 4]
    assert not run.work_items.exists()


def test_a_malformed_deployed_graph_fails_the_run_instead_of_raising(make_flow):
    from designer.models import FlowVersion

    flow = make_flow([])
    run = services.enqueue_run(flow=flow, trigger="api")
    # Deployed versions are immutable through the model; a broken row can only come from outside.
    FlowVersion.objects.filter(pk=run.flow_version_id).update(graph={"shapes": [{"type": "trigger"}]})
    services.claim_run(run_id=run.pk, worker_id="w")

    execute_run(run.pk, worker_id="w")

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "Internal engine error" in run.error


def test_a_worker_that_died_right_after_the_checkpoint_that_opened_the_next_step(
    three_calls, upstream, monkeypatch
):
    """The checkpoint of step a also inserts step b's row (running): a worker killed before b sends anything
    leaves that row, and the resumed run attempts b in it (one row, attempt 2), never in a second one."""
    from runs.engine import runner

    real = runner.execute_shape
    died = {"b": False}

    def dies_before_b(kind, context, work):
        if context.shape_id == "b" and not died["b"]:
            died["b"] = True
            raise WorkerDied
        return real(kind, context, work)

    monkeypatch.setattr(runner, "execute_shape", dies_before_b)
    upstream.add("GET /a", {"a": "ok"})
    upstream.add("GET /b", {"b": "ok"})
    run = services.enqueue_run(flow=three_calls, trigger="api", payload="{}")
    services.claim_run(run_id=run.pk, worker_id="doomed")
    with pytest.raises(WorkerDied):
        execute_run(run.pk, worker_id="doomed")

    left = Step.objects.get(run=run, shape_id="b")
    assert left.status == Step.Status.RUNNING and left.attempts == 1
    assert [item.data.get("step") for item in WorkItem.objects.filter(run=run)] == [left.pk]
    assert left.payloads.filter(direction="input").count() == 1

    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.requeue_expired_leases() == 1
    assert services.claim_run(run_id=run.pk, worker_id="survivor") is not None
    execute_run(run.pk, worker_id="survivor")
    run.refresh_from_db()

    assert run.status == Run.Status.SUCCEEDED
    assert len(upstream.calls("GET /a")) == 1 and len(upstream.calls("GET /b")) == 1
    b_steps = list(Step.objects.filter(run=run, shape_id="b"))
    assert len(b_steps) == 1 and b_steps[0].pk == left.pk
    assert b_steps[0].attempts == 2 and b_steps[0].status == Step.Status.SUCCEEDED
    assert b_steps[0].payloads.filter(direction="input").count() == 1, "no second input payload"
    messages = list(run.log_lines.values_list("message", flat=True))
    assert any("'b' resumed after an interrupted attempt" in m for m in messages)
    seqs = list(run.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
