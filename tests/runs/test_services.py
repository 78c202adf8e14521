"""The queue: enqueue, claim order and limits, leases, manual retry and stop."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from runs import services
from runs.errors import RunRefused
from runs.models import LogLine, Run
from tests.runs.conftest import run_once, shape


def test_enqueue_gives_manual_runs_priority_zero_and_others_the_flows(make_flow):
    flow = make_flow([], priority=2, variables={"a": "1", "b": "2"})
    manual = services.enqueue_run(flow=flow, trigger="manual")
    hook = services.enqueue_run(flow=flow, trigger="webhook", variables={"b": "override"})

    assert manual.priority == 0 and hook.priority == 2
    assert hook.variables == {"a": "1", "b": "override"}
    assert manual.status == hook.status == Run.Status.QUEUED
    assert hook.flow_version.status == "deployed"


def test_claim_next_run_takes_lowest_priority_number_then_oldest(make_flow):
    low = make_flow([], priority=5)
    high = make_flow([], priority=1)
    first_low = services.enqueue_run(flow=low, trigger="webhook")
    first_high = services.enqueue_run(flow=high, trigger="webhook")
    second_high = services.enqueue_run(flow=high, trigger="schedule")
    manual = services.enqueue_run(flow=low, trigger="api")

    order = [services.claim_next_run(worker_id="w").pk for _ in range(4)]

    assert order == [manual.pk, first_high.pk, second_high.pk, first_low.pk]
    assert services.claim_next_run(worker_id="w") is None


def test_claim_sets_the_lease_and_a_second_claim_gets_nothing(make_flow, settings):
    settings.PATCHBAY_LEASE_SECONDS = 90
    run = services.enqueue_run(flow=make_flow([]), trigger="api")

    claimed = services.claim_run(run_id=run.pk, worker_id="one")
    again = services.claim_run(run_id=run.pk, worker_id="two")

    assert claimed is not None and again is None
    assert claimed.status == Run.Status.RUNNING and claimed.lease_owner == "one"
    remaining = (claimed.lease_expires_at - timezone.now()).total_seconds()
    assert 80 < remaining <= 90
    assert claimed.started_at is not None


def test_a_run_that_is_not_yet_due_is_not_claimed(make_flow):
    run = services.enqueue_run(flow=make_flow([]), trigger="webhook", delay_seconds=600)
    assert services.claim_run(run_id=run.pk, worker_id="w") is None
    assert services.claim_next_run(worker_id="w") is None


def test_claim_next_run_respects_the_flows_concurrency_limit(make_flow):
    limited = make_flow([], max_concurrent_runs=1)
    other = make_flow([])
    a = services.enqueue_run(flow=limited, trigger="webhook")
    b = services.enqueue_run(flow=limited, trigger="webhook")
    c = services.enqueue_run(flow=other, trigger="webhook")

    assert services.claim_next_run(worker_id="w").pk == a.pk
    assert services.claim_next_run(worker_id="w").pk == c.pk
    assert services.claim_next_run(worker_id="w") is None
    assert services.claim_run(run_id=b.pk, worker_id="w") is None

    Run.objects.filter(pk=a.pk).update(status=Run.Status.SUCCEEDED)
    assert services.claim_next_run(worker_id="w").pk == b.pk


def test_renew_lease_only_works_for_the_lease_holder(make_flow):
    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    run = services.claim_run(run_id=run.pk, worker_id="holder")
    assert services.renew_lease(run=run, worker_id="holder") is True
    assert services.renew_lease(run=run, worker_id="intruder") is False


def test_expired_leases_are_requeued_once_with_a_log_line(make_flow):
    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    services.claim_run(run_id=run.pk, worker_id="dead")
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert services.requeue_expired_leases() == 1
    assert services.requeue_expired_leases() == 0
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.lease_owner == ""
    assert run.log_lines.filter(message="Lease expired; resuming from checkpoint").count() == 1


def test_stop_of_a_queued_run_stops_it_at_once(make_flow):
    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    stopped = services.stop_run(run=run)
    assert stopped.status == Run.Status.STOPPED and stopped.finished_at is not None
    with pytest.raises(RunRefused, match="already ended"):
        services.stop_run(run=stopped)


def test_stop_of_a_running_run_is_a_request(make_flow):
    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    services.claim_run(run_id=run.pk, worker_id="w")
    asked = services.stop_run(run=run)
    assert asked.status == Run.Status.RUNNING and asked.stop_requested is True
    assert asked.log_lines.filter(level=LogLine.Level.WARNING, message__startswith="Stop requested").exists()


def test_manual_retry_queues_the_same_version_and_input_as_the_next_attempt(make_flow):
    flow = make_flow(
        [shape("check", "assert", conditions=[{"path": "ok", "operator": "equals", "value": True}])]
    )
    failed = run_once(services.enqueue_run(flow=flow, trigger="webhook", payload='{"ok": false}'))
    assert failed.status == Run.Status.FAILED

    retry = services.retry_run(run=failed)

    assert retry.retry_of_id == failed.pk and retry.attempt == 2 and retry.trigger == "retry"
    assert retry.flow_version_id == failed.flow_version_id
    assert retry.input_payload == '{"ok": false}' and retry.priority == 0
    with pytest.raises(RunRefused):
        services.retry_run(run=retry)


def test_a_succeeded_run_cannot_be_retried(make_flow):
    done = run_once(services.enqueue_run(flow=make_flow([]), trigger="api"))
    assert done.status == Run.Status.SUCCEEDED
    with pytest.raises(RunRefused, match="succeeded"):
        services.retry_run(run=done)


def test_log_sequence_numbers_are_gap_free_across_writers(make_flow):
    from runs.logs import write_log

    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    stale = Run.objects.get(pk=run.pk)
    for index in range(5):
        write_log(run=run if index % 2 else stale, level="info", message=f"line {index}")
    assert list(run.log_lines.values_list("seq", flat=True)) == list(range(1, 7))


def _claim_in_threads(workers: int, attempts_per_worker: int) -> list[int]:
    """Each thread claims runs with its own database connection, as executor threads do."""
    from django.db import connection

    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(attempts_per_worker):
                run = services.claim_next_run(worker_id=name)
                if run is None:
                    continue
                with lock:
                    claimed.append(run.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return claimed


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_run(make_flow):
    flow = make_flow([])
    ids = {services.enqueue_run(flow=flow, trigger="webhook").pk for _ in range(24)}

    claimed = _claim_in_threads(workers=4, attempts_per_worker=10)

    assert len(claimed) == len(set(claimed)) == 24
    assert set(claimed) == ids
    assert Run.objects.filter(status=Run.Status.RUNNING).count() == 24


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_respect_the_flows_limit(make_flow):
    flow = make_flow([], max_concurrent_runs=2)
    for _ in range(10):
        services.enqueue_run(flow=flow, trigger="webhook")

    claimed = _claim_in_threads(workers=4, attempts_per_worker=3)

    assert len(claimed) == 2
    assert Run.objects.filter(flow=flow, status=Run.Status.RUNNING).count() == 2
