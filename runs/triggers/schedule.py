"""The schedule trigger: cron expressions (5 fields, UTC) of enabled, deployed flows.

`fire_due_schedules` is called every second by the embedded executor's sweeper and every 15 seconds by
Celery beat; any number of them may run at once. Each due time fires once per flow: the `ScheduleFiring`
row for (flow, due time) is inserted in the same transaction as the run, and the unique constraint makes
every other scheduler's insert fail.

Missed due times coalesce: after downtime only the latest due time of each expression fires, and never one
from before the version was deployed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from croniter import CroniterBadDateError, croniter
from django.db import IntegrityError, transaction
from django.utils import timezone

from designer.models import Flow, FlowVersion
from runs.errors import RunRefused
from runs.lifecycle import enqueue_run
from runs.models import Run, ScheduleFiring
from runs.triggers.flows import trigger_settings

logger = logging.getLogger(__name__)


# Expressions already reported as unusable: the scheduler runs every second and says so once per process,
# not once per tick (deploy refuses them; a version deployed before that check may still hold one).
_reported: set[str] = set()


def latest_due_time(expression: str, now: datetime) -> datetime | None:
    """The latest time at or before `now` that `expression` matches; None for an invalid expression or one
    that can never fire (`0 0 31 2 *`)."""
    if expression in _reported:
        return None
    try:
        # croniter's get_prev is strictly before its start; a due time equal to now counts as due.
        start = now + timedelta(microseconds=1)
        return croniter(expression, start).get_prev(datetime)
    except CroniterBadDateError:
        _reported.add(expression)
        logger.warning("Ignoring cron expression %r: it can never fire (no date matches it)", expression)
        return None
    except (ValueError, KeyError) as error:
        _reported.add(expression)
        logger.warning("Ignoring invalid cron expression %r: %s", expression, error)
        return None


def due_times(*, cron: list[str], deployed_at: datetime, now: datetime) -> list[datetime]:
    """The distinct due times to fire now: per expression its latest due time after the deployment."""
    times = set()
    for expression in cron:
        due = latest_due_time(str(expression), now)
        if due is not None and due > deployed_at:
            times.add(due)
    return sorted(times)


def _fire(flow: Flow, due_at: datetime) -> Run | None:
    """Insert the firing and queue the run together; None when another scheduler fired it already."""
    try:
        with transaction.atomic():
            firing = ScheduleFiring.objects.create(flow=flow, due_at=due_at)
            run = enqueue_run(
                flow=flow, trigger=Run.Trigger.SCHEDULE, meta={"scheduled_for": due_at.isoformat()}
            )
            firing.run = run
            firing.save(update_fields=["run"])
    except IntegrityError:
        return None
    except RunRefused as refusal:
        logger.warning("Schedule of flow %s at %s refused: %s", flow.pk, due_at.isoformat(), refusal)
        return None
    return run


def fire_due_schedules(*, now: datetime | None = None) -> list[Run]:
    """Queue one run for every due time not fired yet of every enabled, deployed, scheduled flow.

    Side effects: ScheduleFiring rows, Run rows (through runs.lifecycle.enqueue_run, which submits them to
    the executor after commit). Returns the runs this call queued.
    """
    now = now or timezone.now()
    fired: list[Run] = []
    versions = FlowVersion.objects.filter(
        status=FlowVersion.Status.DEPLOYED, flow__enabled=True
    ).select_related("flow")
    for version in versions:
        settings = trigger_settings(version.graph)
        if settings.get("kind") != "schedule":
            continue
        cron = settings.get("cron") or []
        if isinstance(cron, str):
            cron = [cron]
        deployed_at = version.deployed_at or version.created_at
        for due_at in due_times(cron=list(cron), deployed_at=deployed_at, now=now):
            if ScheduleFiring.objects.filter(flow=version.flow, due_at=due_at).exists():
                continue
            run = _fire(version.flow, due_at)
            if run is not None:
                fired.append(run)
    return fired
