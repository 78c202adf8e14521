"""Failure alerts: notification channels, what each flow wants to hear about, and one delivery record per
alert and channel (its attempts and outcome)."""

from __future__ import annotations

from django.db import models


class NotificationChannel(models.Model):
    """Where alerts go. `config` holds the kind's plain settings; `secret` the encrypted part (the webhook's
    HMAC signing secret, or the Apprise URLs, which embed service tokens). Secrets are never returned."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"
        APPRISE = "apprise"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    # email: {"to": [addresses]}; webhook: {"url": str, "headers": {str: str}}; apprise: {}.
    config = models.JSONField(default=dict, blank=True)
    secret = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class FlowAlertSettings(models.Model):
    """A flow's alert choices. `last_alert_at` and `suppressed` are the throttle: at most one alert per
    `interval_minutes`, the ones held back in between are counted and reported with the next alert."""

    class Outcome(models.TextChoices):
        FAILED = "failed"
        PARTIAL_SUCCESS = "partial_success"
        RETRIES_EXHAUSTED = "retries_exhausted"

    flow = models.OneToOneField("designer.Flow", on_delete=models.CASCADE, related_name="alert_settings")
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="flows")
    outcomes = models.JSONField(default=list, blank=True)
    interval_minutes = models.PositiveIntegerField(default=60)
    error_flow = models.ForeignKey(
        "designer.Flow", null=True, blank=True, on_delete=models.SET_NULL, related_name="error_flow_of"
    )
    last_alert_at = models.DateTimeField(null=True, blank=True)
    suppressed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "flow alert settings"

    def __str__(self) -> str:
        return f"Alerts of flow {self.flow_id}"


class AlertDelivery(models.Model):
    """One alert sent (or being sent) to one channel."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    flow = models.ForeignKey("designer.Flow", on_delete=models.CASCADE, related_name="alert_deliveries")
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=32)
    # The alert as sent: flow, run, failed step, error, link, suppressed count.
    alert = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Who is delivering it, and until when (through the waits between attempts): a delivery whose holder
    # died (a restarted process) is picked up again once this has passed (notifications.delivery).
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "alert deliveries"
        indexes = [models.Index(fields=["status", "id"], name="alert_delivery_status")]

    def __str__(self) -> str:
        return f"Alert {self.pk} to {self.channel_id} ({self.status})"
