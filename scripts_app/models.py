"""Custom scripts: a draft (`Script.code`) and numbered, immutable versions."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def code_checksum(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class Script(models.Model):
    class Kind(models.TextChoices):
        GENERAL = "general", "General (script shape, map transform)"
        RESPONSE = "response", "Response script (connector shape)"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GENERAL)
    code = models.TextField(blank=True)
    # Optimistic concurrency of the draft: each write carries the revision it was based on (services).
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScriptVersion(models.Model):
    """A deployed, immutable snapshot of a script's code.

    The newest deployment has status `deployed` (at most one per script, enforced by a partial unique
    constraint); earlier ones become `inactive` but stay runnable for shapes that pin them. The draft is the
    script's own `code` and is listed by the API as a pseudo-version with status `draft`.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        DEPLOYED = "deployed"
        INACTIVE = "inactive"

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    code = models.TextField()
    checksum = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DEPLOYED)
    deployed_at = models.DateTimeField(null=True, blank=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_invoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["script", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["script", "number"], name="unique_script_version_number"),
            models.UniqueConstraint(
                fields=["script"], condition=Q(status="deployed"), name="at_most_one_deployed_script_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.script.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            stored = ScriptVersion.objects.filter(pk=self.pk).values("code").first()
            if stored is not None and stored["code"] != self.code:
                raise ValidationError("Deployed script versions are immutable.")
        self.checksum = code_checksum(self.code)
        super().save(*args, **kwargs)
