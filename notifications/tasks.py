"""Celery task of the scaled setup: one delivery, retried by Celery with the same doubling delay."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.deliver_alert", bind=True, ignore_result=True, max_retries=None)
def deliver_alert(self: object, delivery_id: int) -> None:
    from notifications.delivery import attempt_delivery, retry_delay

    if not attempt_delivery(delivery_id):
        attempt = int(getattr(getattr(self, "request", None), "retries", 0)) + 1
        raise self.retry(countdown=retry_delay(attempt))  # type: ignore[attr-defined]
