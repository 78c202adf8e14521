"""What `load_demo` created, so that a later `load_demo` can tell demo content from a user's edits."""

from __future__ import annotations

from django.db import models


class DemoRecord(models.Model):
    """One object the demo created (connector, endpoint, script, flow), with a fingerprint of the demo's own
    settings of it as `load_demo` last wrote them. A later load changes the object only while its settings
    still have that fingerprint: anything a user changed is kept."""

    key = models.CharField(max_length=300, unique=True, help_text="The demo's name for it, e.g. 'flow:...'.")
    object_id = models.BigIntegerField()
    fingerprint = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
