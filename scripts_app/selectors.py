"""Reads of custom scripts used by other apps (graph validation, the run engine, the frontend lists)."""

from __future__ import annotations

from django.db.models import QuerySet

from scripts_app.models import Script, ScriptVersion


def resolve_script_version(*, script_id: int, version: int | None) -> ScriptVersion | None:
    """The version a shape that references `script_id` runs: the pinned `version` number when given,
    otherwise the script's deployed (latest) version. None when there is no such runnable version."""
    versions = ScriptVersion.objects.filter(script_id=script_id).exclude(status=ScriptVersion.Status.DRAFT)
    if version is not None:
        return versions.filter(number=version).select_related("script").first()
    return versions.filter(status=ScriptVersion.Status.DEPLOYED).select_related("script").first()


def scripts_with_deployed_version() -> QuerySet[Script]:
    return Script.objects.filter(versions__status=ScriptVersion.Status.DEPLOYED).distinct()
