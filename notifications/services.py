"""Writes of failure alerts: channels, flow alert settings, and what happens when a run ends.

`handle_run_finished` receives `runs.signals.run_finished` (after the commit that ended the run). It only
does a few short writes: decide the outcome, take or count the flow's throttle slot (the settings row is
locked, so concurrent failures of one flow send one alert), create the delivery rows and queue an error
flow run. The sending itself happens off the run path (notifications.delivery), so a channel that keeps
failing never slows or blocks runs.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from designer.crypto import decrypt_secrets, encrypt_secrets
from designer.models import Flow
from notifications.models import AlertDelivery, FlowAlertSettings, NotificationChannel
from runs.errors import RunRefused
from runs.models import Run, Step

logger = logging.getLogger(__name__)

OUTCOMES = tuple(FlowAlertSettings.Outcome.values)
DEFAULT_OUTCOMES = [FlowAlertSettings.Outcome.FAILED, FlowAlertSettings.Outcome.RETRIES_EXHAUSTED]


# --- channels ---------------------------------------------------------------------------------------------
def channel_secret(channel: NotificationChannel) -> str:
    return decrypt_secrets(channel.secret).get("secret", "") if channel.secret else ""


def save_channel(
    *, channel: NotificationChannel | None = None, secret: str | None = None, **fields: Any
) -> NotificationChannel:
    """Create or update a channel. `secret` None keeps the stored one, "" removes it."""
    channel = channel or NotificationChannel()
    for name, value in fields.items():
        setattr(channel, name, value)
    if secret is not None:
        channel.secret = encrypt_secrets({"secret": secret})
    channel.save()
    return channel


# --- flow settings ----------------------------------------------------------------------------------------
def alert_settings_of(flow: Flow) -> FlowAlertSettings:
    found = FlowAlertSettings.objects.filter(flow=flow).first()
    return found or FlowAlertSettings(flow=flow, outcomes=list(DEFAULT_OUTCOMES))


def save_alert_settings(
    *,
    flow: Flow,
    channels: list[NotificationChannel],
    outcomes: list[str],
    interval_minutes: int,
    error_flow: Flow | None,
) -> FlowAlertSettings:
    with transaction.atomic():
        alert_settings, _ = FlowAlertSettings.objects.get_or_create(
            flow=flow, defaults={"outcomes": outcomes}
        )
        alert_settings.outcomes = list(dict.fromkeys(outcomes))
        alert_settings.interval_minutes = interval_minutes
        alert_settings.error_flow = error_flow
        alert_settings.save(update_fields=["outcomes", "interval_minutes", "error_flow"])
        alert_settings.channels.set(channels)
    return alert_settings


# --- a run ended --------------------------------------------------------------------------------------------
def run_outcome(run: Run) -> str | None:
    """The alert outcome of a finished run, or None when it is not worth an alert.

    `retries_exhausted`: it failed after using up retries (a step that gave up after its retries, or a run
    attempt after which no further attempt is queued). `failed`: any other failure that no automatic run
    retry follows (the next attempt speaks for it). `partial_success`: a failure caught by try / catch.
    """
    if run.status == Run.Status.PARTIAL_SUCCESS:
        return FlowAlertSettings.Outcome.PARTIAL_SUCCESS
    if run.status != Run.Status.FAILED:
        return None
    # At the time of the signal only the engine can have queued a retry (response code 2).
    if Run.objects.filter(retry_of=run).exists():
        return None
    # The engine's words for "retries used up": a step's (runs/engine/runner.py) and a run's.
    exhausted_step = "(gave up after" in (run.error or "")
    exhausted_run = run.log_lines.filter(message__startswith="No run retries left").exists()
    if exhausted_step or exhausted_run:
        return FlowAlertSettings.Outcome.RETRIES_EXHAUSTED
    return FlowAlertSettings.Outcome.FAILED


def run_page_url(run: Run) -> str:
    return f"{settings.PATCHBAY_BASE_URL.rstrip('/')}/runs/{run.pk}"


def describe_failed_run(run: Run, outcome: str) -> dict[str, Any]:
    """The JSON describing a finished run that alerts and error flows receive."""
    step = Step.objects.filter(run=run, status=Step.Status.FAILED).order_by("-id").first()
    return {
        "outcome": outcome,
        "flow": {"id": run.flow_id, "name": run.flow.name},
        "run": {
            "id": run.pk,
            "status": run.status,
            "trigger": run.trigger,
            "attempt": run.attempt,
            "flow_version": run.flow_version.number,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "url": run_page_url(run),
        },
        "failed_step": (
            {"id": step.shape_id, "name": step.shape_name, "type": step.shape_type, "error": step.error}
            if step is not None
            else None
        ),
        "error": run.error,
    }


def handle_run_finished(sender: Any, run: Run, **kwargs: Any) -> None:
    """Receiver of `run_finished`: alert and start the error flow. Never raises into the run path."""
    from notifications.delivery import redeliver_stale_alerts_now_and_then

    redeliver_stale_alerts_now_and_then()
    if run.status not in (Run.Status.FAILED, Run.Status.PARTIAL_SUCCESS):
        return
    try:
        notify_run_finished(run=run)
    except Exception:
        logger.exception("Failure alert for run %s could not be prepared", run.pk)


def notify_run_finished(*, run: Run) -> list[AlertDelivery]:
    """Alert the flow's channels about `run` (if its outcome is one they chose and the throttle allows)
    and start the flow's error flow. Returns the deliveries created (sent after commit, off this thread).

    Locks the flow's alert settings row while deciding, so concurrent failures of one flow take the
    throttle slot once; the others add to `suppressed`.
    """
    run = Run.objects.select_related("flow", "flow_version").get(pk=run.pk)
    alert_settings = FlowAlertSettings.objects.filter(flow_id=run.flow_id).first()
    if alert_settings is None:
        return []
    outcome = run_outcome(run)
    if outcome is None or outcome not in (alert_settings.outcomes or []):
        return []
    description = describe_failed_run(run, outcome)
    _start_error_flow(alert_settings, run, description)
    now = timezone.now()
    deliveries: list[AlertDelivery] = []
    with transaction.atomic():
        locked = FlowAlertSettings.objects.select_for_update().get(pk=alert_settings.pk)
        channels = list(locked.channels.filter(enabled=True))
        if not channels:
            return []
        interval = datetime.timedelta(minutes=locked.interval_minutes)
        if locked.last_alert_at is not None and now - locked.last_alert_at < interval:
            FlowAlertSettings.objects.filter(pk=locked.pk).update(suppressed=F("suppressed") + 1)
            return []
        suppressed = locked.suppressed
        FlowAlertSettings.objects.filter(pk=locked.pk).update(last_alert_at=now, suppressed=0)
        alert = {**description, "suppressed": suppressed, "interval_minutes": locked.interval_minutes}
        deliveries = [
            AlertDelivery.objects.create(
                channel=channel, flow_id=run.flow_id, run=run, outcome=outcome, alert=alert
            )
            for channel in channels
        ]
        from notifications.delivery import dispatch

        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: dispatch(ids))
    return deliveries


def _start_error_flow(alert_settings: FlowAlertSettings, run: Run, description: dict[str, Any]) -> None:
    error_flow = alert_settings.error_flow
    # A failed error flow run starts no error flow itself: two flows naming each other would loop.
    if error_flow is None or error_flow.pk == run.flow_id or (run.input_meta or {}).get("error_flow_of"):
        return
    from runs.services import enqueue_run

    try:
        enqueue_run(
            flow=error_flow,
            trigger=Run.Trigger.RUN_FLOW,
            payload=json.dumps(description),
            meta={"error_flow_of": str(run.pk)},
            parent_run=run,
        )
    except RunRefused as refusal:
        logger.warning(
            "Error flow %s of flow %s not started: %s", error_flow.pk, run.flow_id, refusal.message
        )
