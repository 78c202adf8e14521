"""A worker loses its lease while a step is executing: the upstream is slow, the lease runs out, the sweep
re-queues the run and another worker takes it and finishes it. When the slow call finally returns, the first
worker notices at its checkpoint, writes nothing more, and the run is completed exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from runs import services
from runs.engine import execute_run
from runs.models import Run, Step
from runs.signals import run_finished
from tests.runs.conftest import shape

pytestmark = [pytest.mark.usefixtures("fast_retries"), pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds; only reached when the engine hangs


@pytest.fixture
def finished_runs() -> Iterator[list[int]]:
    """Ids of the runs `runs.signals.run_finished` was sent for, one entry per signal."""
    finished: list[int] = []

    def receiver(sender: type[Run], run: Run, **kwargs: object) -> None:
        finished.append(run.pk)

    run_finished.connect(receiver)
    yield finished
    run_finished.disconnect(receiver)


def test_a_worker_that_loses_its_lease_mid_step_writes_nothing_and_the_run_completes_once(
    make_flow, make_connector, make_endpoint, upstream, finished_runs
):
    connector = make_connector(base_url="https://wms.example.test")
    flow = make_flow(
        [
            shape("a", "connector", connector=connector.pk, endpoint=make_endpoint(connector, path="/a").pk),
            shape(
                "b", "connector", connector=connector.pk, endpoint=make_endpoint(connector, path="/slow").pk
            ),
            shape("c", "notify", message="done"),
        ]
    )
    in_slow_call, let_it_answer = threading.Event(), threading.Event()
    slow_calls = []

    def slow(request: httpx.Request) -> httpx.Response:
        slow_calls.append(threading.current_thread().name)
        if len(slow_calls) == 1:  # the first worker's call hangs until the test lets it answer
            in_slow_call.set()
            assert let_it_answer.wait(WAIT)
            return httpx.Response(200, json={"from": "stale"})
        return httpx.Response(200, json={"from": "fresh"})

    upstream.add("GET /a", {"a": "ok"})
    upstream.add("GET /slow", slow)
    run = services.enqueue_run(flow=flow, trigger="api", payload="{}")
    assert services.claim_run(run_id=run.pk, worker_id="stale") is not None

    def stale_worker() -> None:
        try:
            execute_run(run.pk, worker_id="stale")
        finally:
            connection.close()

    stale = threading.Thread(target=stale_worker, name="stale")
    stale.start()
    try:
        assert in_slow_call.wait(WAIT), "the first worker never reached the slow step"
        # The lease runs out while the call hangs; the sweep re-queues the run and another worker takes it.
        Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert services.requeue_expired_leases() == 1
        assert services.claim_run(run_id=run.pk, worker_id="fresh") is not None
        execute_run(run.pk, worker_id="fresh")

        run.refresh_from_db()
        assert run.status == Run.Status.SUCCEEDED
        finished = (run.finished_at, run.final_payload, run.log_lines.count(), run.steps.count())
    finally:
        let_it_answer.set()
        stale.join(WAIT)
    assert not stale.is_alive()

    # The first worker's answer came back after the run was finished: it changed nothing.
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.lease_owner in ("", None, "fresh")
    assert (run.finished_at, run.final_payload, run.log_lines.count(), run.steps.count()) == finished
    assert '"stale"' not in (run.final_payload or "")
    assert finished_runs == [run.pk], "the run is completed exactly once"

    assert slow_calls == ["stale", "MainThread"]
    assert len(upstream.calls("GET /a")) == 1, "the step finished before the lease loss is not run again"
    steps = {step.shape_id: step for step in run.steps.all()}
    assert sorted(steps) == ["a", "b", "c", "trigger"]
    assert all(step.status == Step.Status.SUCCEEDED for step in steps.values())
    assert steps["b"].attempts == 2 and steps["c"].attempts == 1
    assert run.log_lines.filter(message="done").count() == 1
    seqs = list(run.log_lines.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
