"""The schedule trigger: each due time of each cron expression fires once, however many schedulers check."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections

from designer.services import create_flow, deploy_flow, update_flow
from runs.models import Run, ScheduleFiring
from runs.triggers.schedule import fire_due_schedules

# Two schedulers in two threads need committed data and their own connections.
pytestmark = pytest.mark.django_db(transaction=True)


def scheduled_flow(name: str, cron: list[str], *, kind: str = "schedule") -> Any:
    settings: dict[str, Any] = {"kind": kind}
    if kind == "schedule":
        settings["cron"] = cron
    graph = {
        "shapes": [
            {
                "id": "clock",
                "type": "trigger",
                "name": "Clock",
                "position": {"x": 0, "y": 0},
                "settings": settings,
            }
        ],
        "connections": [],
    }
    flow = create_flow(name=name, graph=graph)
    return flow, deploy_flow(flow=flow)


def minute_after(version, minutes: int, seconds: int = 30):
    return version.deployed_at.replace(second=0, microsecond=0) + timedelta(minutes=minutes, seconds=seconds)


def test_a_due_time_fires_once_when_the_check_runs_twice():
    flow, version = scheduled_flow("Every minute", ["* * * * *"])
    now = minute_after(version, 2)

    first = fire_due_schedules(now=now)
    second = fire_due_schedules(now=now + timedelta(seconds=10))

    assert len(first) == 1
    assert second == []
    run = Run.objects.get()
    assert run.trigger == "schedule"
    assert run.flow_id == flow.pk
    firing = ScheduleFiring.objects.get()
    assert firing.run_id == run.pk
    assert firing.due_at == now.replace(second=0)
    assert run.input_meta == {"scheduled_for": firing.due_at.isoformat()}


def test_the_next_due_time_fires_again():
    _, version = scheduled_flow("Every minute", ["* * * * *"])

    fire_due_schedules(now=minute_after(version, 2))
    fire_due_schedules(now=minute_after(version, 3))

    assert Run.objects.count() == 2
    assert ScheduleFiring.objects.count() == 2


def test_two_schedulers_in_two_threads_fire_a_due_time_once():
    _, version = scheduled_flow("Raced", ["*/5 * * * *"])
    now = minute_after(version, 11)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(len(fire_due_schedules(now=now)))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [0, 1]
    assert Run.objects.count() == 1
    assert ScheduleFiring.objects.count() == 1


def test_expressions_sharing_a_due_time_fire_once():
    _, version = scheduled_flow("Twice the same", ["0 * * * *", "0 */2 * * *"])
    next_hour = version.deployed_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    even_hour = next_hour + timedelta(hours=next_hour.hour % 2)  # both expressions are due then
    now = even_hour + timedelta(seconds=5)

    fire_due_schedules(now=now)

    assert Run.objects.count() == 1


def test_missed_due_times_coalesce_into_the_latest_one():
    _, version = scheduled_flow("Was down", ["* * * * *"])

    fire_due_schedules(now=minute_after(version, 30))

    assert ScheduleFiring.objects.count() == 1
    assert ScheduleFiring.objects.get().due_at == minute_after(version, 30, seconds=0)


def test_a_due_time_before_the_deployment_does_not_fire():
    _, version = scheduled_flow("Fresh", ["0 0 1 1 *"])

    fire_due_schedules(now=version.deployed_at + timedelta(minutes=1))

    assert not Run.objects.exists()


def test_disabled_and_non_scheduled_flows_do_not_fire():
    flow, version = scheduled_flow("Paused", ["* * * * *"])
    update_flow(flow=flow, enabled=False)
    scheduled_flow("Manual", [], kind="manual")

    fire_due_schedules(now=minute_after(version, 2))

    assert not Run.objects.exists()
    assert not ScheduleFiring.objects.exists()
