"""kill -9 the server process of the embedded executor mid-run, restart it (issue 7, fault test 2).

The issue asks for "the same" as the Celery test with the embedded executor: kill the server process
mid-run, restart, everything completes. This test starts `manage.py runserver --noreload` (the ASGI
server with the embedded executor: four worker threads and the lease sweeper) on a free port, with a temp
PATCHBAY_VAR_DIR and 5 s leases, against the test database (SQLite file or PostgreSQL). It queues 500
runs of the four-step crash-test flow and SIGKILLs the server five times while runs execute, restarting
it each time; the new process's sweeper re-queues the dead one's runs when their leases expire. Every run
must succeed exactly once with a gap-free log.
"""

from __future__ import annotations

import tempfile
import time

import pytest

from runs.models import Run
from tests.reliability.flows import crash_test_flow, enqueue, finished_count, order_of, resumed_run_ids
from tests.reliability.processes import (
    CountingUpstream,
    check_runs,
    children,
    free_port,
    start_server,
    wait_for_port,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

RUNS = 500
KILLS = 5


def test_killing_the_server_mid_run_loses_no_run(make_flow, make_connector, make_endpoint):
    port = free_port()
    with (
        CountingUpstream(delay=0.05) as upstream,
        tempfile.TemporaryDirectory(prefix="patchbay-var-") as var_dir,
        children() as group,
    ):
        server_env = {"PATCHBAY_VAR_DIR": var_dir, "PATCHBAY_LEASE_SECONDS": "5", "PATCHBAY_WORKERS": "4"}
        flow = crash_test_flow(make_flow, make_connector, make_endpoint, upstream.base_url)
        server = start_server(group, port=port, **server_env)
        assert wait_for_port(port), "the server did not start"
        run_ids = enqueue(flow, RUNS)

        running_at_kill = []
        for kill in range(KILLS):
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
            server.kill9()
            server = start_server(group, port=port, **server_env)
            assert wait_for_port(port), "the server did not start again"

        deadline = time.monotonic() + 180
        while finished_count(run_ids) < RUNS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert server.alive()

    statuses = check_runs(run_ids)
    assert statuses == {"succeeded": RUNS}
    assert all(count > 0 for count in running_at_kill), running_at_kill
    resumed = resumed_run_ids(run_ids)
    assert resumed, "no kill interrupted a run"
    orders = order_of(run_ids)
    assert all(upstream.calls[orders[pk]] >= 1 for pk in run_ids)
    called_twice = {pk for pk in run_ids if upstream.calls[orders[pk]] > 1}
    assert called_twice <= resumed, f"called twice without a crash: {called_twice - resumed}"
