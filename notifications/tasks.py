"""Celery task of the scaled setup: one delivery, retried by Celery with the same doubling delay."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.deliver_alert", bind=True, ignore_result=True, max_retries=None)
def deliver_alert(self: object, delivery_id: int) -> None:
    from notifications.delivery import attempt_delivery, retry_delay

    request = getattr(self, "request", None)
    # Celery keeps the task id across its retries: the delivery stays this task's while it waits.
    if not attempt_delivery(delivery_id, f"celery:{getattr(request, 'id', None) or delivery_id}"):
        attempt = int(getattr(request, "retries", 0)) + 1
        raise self.retry(countdown=retry_delay(attempt))  # type: ignore[attr-defined]


@shared_task(name="notifications.redeliver_stale_alerts", ignore_result=True)
def redeliver_stale_alerts() -> None:
    from notifications.delivery import redeliver_stale_alerts as redeliver

    redeliver()
