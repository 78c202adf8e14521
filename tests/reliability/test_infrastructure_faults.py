"""Redis restarted mid-run and PostgreSQL connections dropped mid-run (issue 7, fault test 4).

The issue asks: the system recovers without losing runs. This test starts its own `redis-server` on a
free loopback port (no persistence, so a restart loses every queued message, the worst case) and a Celery
worker using it as broker and channel layer, against the test's PostgreSQL database, with 5 s leases. It
queues 150 runs of the four-step crash-test flow; once a third has finished it kills and restarts Redis,
and once two thirds have finished it terminates every PostgreSQL connection of the worker
(`pg_terminate_backend`). The test process plays Celery beat, sending the run sweep about once a second
(tolerating the moments Redis is down, as beat does): it re-queues runs whose lease expired and resubmits
due runs whose broker message was lost. Every run must succeed exactly once with a gap-free log.

Needs PostgreSQL and redis-server: skipped with the reason on the SQLite pass or without redis-server.
"""

from __future__ import annotations

import shutil
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection

from runs.models import LogLine, Run
from runs.tasks import sweep_runs
from tests.reliability.flows import crash_test_flow, enqueue, finished_count
from tests.reliability.processes import (
    CountingUpstream,
    RedisServer,
    celery_sending_to,
    check_runs,
    children,
    start_celery_worker,
    wait_until,
)

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs PostgreSQL for the worker process: runs in the PostgreSQL pass"
    ),
]

RUNS = 150


def sweep_quietly() -> None:
    """One beat tick: the sweep, or nothing while the broker is down (beat logs it and tries again)."""
    try:
        sweep_runs()
    except Exception as error:  # the broker may be restarting: the next tick tries again
        print(f"sweep failed: {type(error).__name__}: {error}")


def terminate_other_connections() -> int:
    """End every PostgreSQL session on this test database except this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def wait_for_progress(run_ids: list[int], goal: int) -> None:
    def reached() -> bool:
        sweep_quietly()
        return finished_count(run_ids) >= goal and (
            Run.objects.filter(pk__in=run_ids, status=Run.Status.RUNNING).exists()
        )

    wait_until(reached, 120, interval=0.1)


def test_redis_restart_and_dropped_database_connections_lose_no_run(
    make_flow, make_connector, make_endpoint, settings
):
    settings.PATCHBAY_EXECUTOR = "celery"
    with CountingUpstream(delay=0.05) as upstream, children() as group:
        redis = RedisServer(group)
        redis.start()
        with celery_sending_to(redis.url) as queue:
            flow = crash_test_flow(make_flow, make_connector, make_endpoint, upstream.base_url)
            worker = start_celery_worker(
                group, queue=queue, redis_url=redis.url, threads=4, PATCHBAY_LEASE_SECONDS="5"
            )
            run_ids = enqueue(flow, RUNS)

            wait_for_progress(run_ids, RUNS // 3)
            redis.restart(down_seconds=1.0)

            wait_for_progress(run_ids, 2 * RUNS // 3)
            terminated = terminate_other_connections()

            deadline = time.monotonic() + 200
            while finished_count(run_ids) < RUNS and time.monotonic() < deadline:
                sweep_quietly()
                time.sleep(1.0)
            assert worker.alive()

    assert terminated > 0, "the worker had no database connection to drop"
    statuses = check_runs(run_ids)
    failed = {
        pk: list(LogLine.objects.filter(run_id=pk).values_list("message", flat=True))
        for pk in Run.objects.filter(pk__in=run_ids)
        .exclude(status=Run.Status.SUCCEEDED)
        .values_list("pk", flat=True)
    }
    assert statuses == {"succeeded": RUNS}, failed
