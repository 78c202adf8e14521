"""kill -9 a Celery worker mid-run, five times during 500 runs (issue 7, fault test 1).

The issue asks: every run reaches a terminal state, none is lost or finished twice, every run's log is
complete and gap-free. This test starts a real `celery -A config worker` process (thread pool, four runs
at a time, 10 s leases) against the test's PostgreSQL database and Redis, queues 500 runs of a four-step
flow whose connector step calls a local upstream that counts its calls, and SIGKILLs the worker five
times while runs are executing, starting a replacement each time. The test process plays Celery beat: it
sends the run sweep (`runs.tasks.sweep_runs`) about once a second, which re-queues the runs whose worker
died once their lease expires. Then every run must have succeeded exactly once (one finish log line, one
step row per work item, log sequence 1..N) and the upstream must have been called for every order;
twice only for a run a crash interrupted.

Needs PostgreSQL (a worker process cannot share the test's transaction) and Redis: skipped with the reason
on the SQLite pass and when PATCHBAY_TEST_REDIS_URL is unset.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from runs.models import Run
from runs.tasks import sweep_runs
from tests.reliability.flows import crash_test_flow, enqueue, finished_count, order_of, resumed_run_ids
from tests.reliability.processes import (
    REDIS_URL,
    CountingUpstream,
    celery_sending_to,
    check_runs,
    children,
    start_celery_worker,
)

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
    pytest.mark.skipif(not REDIS_URL, reason="PATCHBAY_TEST_REDIS_URL is unset: no Redis for Celery"),
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs PostgreSQL for the worker processes: runs in the PostgreSQL pass"
    ),
]

# The issue says 500 runs; 300 keep this test near 90 s on the shared 2-core machine (500 took 175 s).
RUNS = 500
KILLS = 5
WORKER_ENV = {"PATCHBAY_LEASE_SECONDS": "10", "PATCHBAY_RETRY_DELAY": "0.1"}


def test_killing_the_worker_five_times_loses_no_run(make_flow, make_connector, make_endpoint, settings):
    settings.PATCHBAY_EXECUTOR = "celery"
    with CountingUpstream(delay=0.05) as upstream, children() as group, celery_sending_to(REDIS_URL) as queue:
        flow = crash_test_flow(make_flow, make_connector, make_endpoint, upstream.base_url)
        worker = start_celery_worker(group, queue=queue, redis_url=REDIS_URL, threads=4, **WORKER_ENV)
        run_ids = enqueue(flow, RUNS)

        running_at_kill = []
        for kill in range(KILLS):
            # Kill at 1/7, 2/7 ... 5/7 of the runs finished, while the worker has runs in hand.
            goal = RUNS * (kill + 1) // (KILLS + 2)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if (
                    finished_count(run_ids) >= goal
                    and Run.objects.filter(pk__in=run_ids, status=Run.Status.RUNNING).exists()
                ):
                    break
                time.sleep(0.05)
            running_at_kill.append(Run.objects.filter(pk__in=run_ids, status=Run.Status.RUNNING).count())
            worker.kill9()
            worker = start_celery_worker(group, queue=queue, redis_url=REDIS_URL, threads=4, **WORKER_ENV)

        deadline = time.monotonic() + 200
        while finished_count(run_ids) < RUNS and time.monotonic() < deadline:
            sweep_runs()
            time.sleep(1.0)
        assert worker.alive()

    statuses = check_runs(run_ids)
    assert statuses == {"succeeded": RUNS}
    assert all(count > 0 for count in running_at_kill), running_at_kill
    resumed = resumed_run_ids(run_ids)
    assert resumed, "no kill interrupted a run"
    orders = order_of(run_ids)
    assert all(upstream.calls[orders[pk]] >= 1 for pk in run_ids)
    called_twice = {pk for pk in run_ids if upstream.calls[orders[pk]] > 1}
    assert called_twice <= resumed, f"called twice without a crash: {called_twice - resumed}"
