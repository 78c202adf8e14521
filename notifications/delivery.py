"""Sending alerts, off the run path: a small thread pool in the embedded setup, a Celery task in the
scaled one. Each delivery is attempted up to PATCHBAY_ALERT_ATTEMPTS times with a doubling delay; its
record says how it went (`sent` / `failed`, attempts, last error).

Channels: email through Django's email backend; a webhook POST of JSON (`text` for Slack- and Teams-style
receivers plus the structured alert), signed with `X-Patchbay-Signature: sha256=<HMAC-SHA256 of the body>`
when the channel has a secret; Apprise URLs (the services Apprise reaches, json:// and mailto:// included).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from notifications.models import AlertDelivery, NotificationChannel
from notifications.services import channel_secret

logger = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_pending: set[Future] = set()
REDELIVER_EVERY = 300.0
_last_redeliver = float("-inf")


class DeliveryFailed(Exception):
    pass


def alert_subject(alert: dict[str, Any]) -> str:
    outcome = str(alert.get("outcome", "failed")).replace("_", " ")
    return f"Patchbay: flow '{alert['flow']['name']}' run {alert['run']['id']} {outcome}"


def alert_text(alert: dict[str, Any]) -> str:
    lines = [alert_subject(alert)]
    step = alert.get("failed_step")
    if step:
        lines.append(f"Failed step: {step['name']} ({step['type']}): {step['error']}")
    if alert.get("error"):
        lines.append(f"Error: {alert['error']}")
    if alert.get("suppressed"):
        lines.append(
            f"{alert['suppressed']} more alert(s) of this flow were held back in the last "
            f"{alert.get('interval_minutes')} minute(s)."
        )
    lines.append(f"Run: {alert['run']['url']}")
    return "\n".join(lines)


def _send_email(channel: NotificationChannel, alert: dict[str, Any]) -> None:
    recipients = [str(address) for address in channel.config.get("to") or []]
    send_mail(
        subject=alert_subject(alert), message=alert_text(alert), from_email=None, recipient_list=recipients
    )


def _send_webhook(channel: NotificationChannel, alert: dict[str, Any]) -> None:
    from connectors.client import build_client

    body = json.dumps({"text": alert_text(alert), **alert}).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        **{str(k): str(v) for k, v in (channel.config.get("headers") or {}).items()},
    }
    secret = channel_secret(channel)
    if secret:
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers["X-Patchbay-Signature"] = f"sha256={digest}"
    with build_client(timeout=float(settings.PATCHBAY_ALERT_TIMEOUT)) as client:
        response = client.post(str(channel.config["url"]), content=body, headers=headers)
    if response.status_code >= 300:
        raise DeliveryFailed(f"The webhook answered HTTP {response.status_code}: {response.text[:200]}")


def _send_apprise(channel: NotificationChannel, alert: dict[str, Any]) -> None:
    import apprise

    urls = [line.strip() for line in channel_secret(channel).splitlines() if line.strip()]
    notifier = apprise.Apprise()
    for url in urls:
        if not notifier.add(url):
            raise DeliveryFailed("Apprise does not understand one of the channel's URLs.")
    if not notifier.notify(title=alert_subject(alert), body=alert_text(alert)):
        raise DeliveryFailed("Apprise could not deliver to every URL of the channel.")


SENDERS: dict[str, Callable[[NotificationChannel, dict[str, Any]], None]] = {
    NotificationChannel.Kind.EMAIL: _send_email,
    NotificationChannel.Kind.WEBHOOK: _send_webhook,
    NotificationChannel.Kind.APPRISE: _send_apprise,
}


def _hold_seconds() -> float:
    """How long one attempt may take: the webhook timeout twice over, plus room for email and Apprise."""
    return float(settings.PATCHBAY_ALERT_TIMEOUT) * 2 + 30.0


def _claim(delivery_id: int, token: str, *, seconds: float) -> bool:
    """Hold the pending delivery for `token` for `seconds` (conditional UPDATE: one holder at a time)."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claim_token=token)
    return (
        AlertDelivery.objects.filter(free, pk=delivery_id, status=AlertDelivery.Status.PENDING).update(
            claim_token=token, claimed_until=now + datetime.timedelta(seconds=seconds)
        )
        == 1
    )


def attempt_delivery(delivery_id: int, token: str) -> bool:
    """One attempt of a pending delivery by the holder `token`; records the outcome. Returns True when
    there is nothing more for this holder to do (sent, failed for good, or held by someone else), False
    when another attempt is due after `retry_delay(attempts)` (the delivery stays held until then)."""
    if not _claim(delivery_id, token, seconds=_hold_seconds()):
        return True
    delivery = AlertDelivery.objects.select_related("channel").get(pk=delivery_id)
    delivery.attempts += 1
    try:
        SENDERS[delivery.channel.kind](delivery.channel, delivery.alert)
    except Exception as exc:  # every sender's errors (SMTP, HTTP, Apprise) end up here
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        done = delivery.attempts >= int(settings.PATCHBAY_ALERT_ATTEMPTS)
        if done:
            delivery.status = AlertDelivery.Status.FAILED
            delivery.claimed_until = None
        else:
            wait = retry_delay(delivery.attempts) + _hold_seconds()
            delivery.claimed_until = timezone.now() + datetime.timedelta(seconds=wait)
        delivery.save(update_fields=["attempts", "last_error", "status", "claimed_until"])
        logger.warning(
            "Alert %s to channel %s: attempt %s failed: %s",
            delivery.pk,
            delivery.channel_id,
            delivery.attempts,
            exc,
        )
        return done
    delivery.status = AlertDelivery.Status.SENT
    delivery.sent_at = timezone.now()
    delivery.claimed_until = None
    delivery.save(update_fields=["attempts", "last_error", "status", "sent_at", "claimed_until"])
    return True


def retry_delay(attempt: int) -> float:
    return min(float(settings.PATCHBAY_ALERT_RETRY_DELAY) * 2 ** (attempt - 1), 300.0)


def deliver(delivery_id: int) -> None:
    """Attempt a delivery until it is sent or out of attempts, sleeping between attempts (pool thread)."""
    token = f"thread:{uuid.uuid4().hex}"
    try:
        attempt = 1
        while not attempt_delivery(delivery_id, token):
            time.sleep(retry_delay(attempt))
            attempt += 1
    except Exception:
        logger.exception("Alert delivery %s broke", delivery_id)
    finally:
        connection.close()


def redeliver_stale_alerts() -> int:
    """Dispatch again the pending deliveries nobody holds any more (their process died, or the
    dispatch after commit was lost). Returns how many were handed over."""
    now = timezone.now()
    never_claimed = Q(claimed_until__isnull=True, created_at__lt=now - datetime.timedelta(minutes=5))
    ids = list(
        AlertDelivery.objects.filter(
            never_claimed | Q(claimed_until__lt=now), status=AlertDelivery.Status.PENDING
        )
        .order_by("id")
        .values_list("id", flat=True)[:100]
    )
    if ids:
        logger.warning("Re-dispatching %d alert deliveries nobody held", len(ids))
        dispatch(ids)
    return len(ids)


def redeliver_stale_alerts_now_and_then() -> None:
    """`redeliver_stale_alerts` at most once per REDELIVER_EVERY seconds in this process (called when runs
    end, so a process that runs flows also heals the alerts a dead process left behind)."""
    global _last_redeliver
    now = time.monotonic()
    with _pool_lock:
        if now - _last_redeliver < REDELIVER_EVERY:
            return
        _last_redeliver = now
    try:
        redeliver_stale_alerts()
    except Exception:
        logger.exception("Re-dispatching stale alert deliveries failed")


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="patchbay-alerts")
        return _pool


def dispatch(delivery_ids: list[int]) -> None:
    """Hand deliveries to the background (called after the commit that created them)."""
    if settings.PATCHBAY_EXECUTOR == "celery":
        from notifications.tasks import deliver_alert

        for delivery_id in delivery_ids:
            deliver_alert.delay(delivery_id)
        return
    pool = _get_pool()
    for delivery_id in delivery_ids:
        future = pool.submit(deliver, delivery_id)
        with _pool_lock:
            _pending.add(future)
        future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _pool_lock:
        _pending.discard(future)


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Wait until the deliveries handed to this process's pool are done (shutdown, tests)."""
    deadline = time.monotonic() + timeout
    while True:
        with _pool_lock:
            pending = list(_pending)
        if not pending:
            return
        for future in pending:
            future.result(timeout=max(deadline - time.monotonic(), 0.01))
