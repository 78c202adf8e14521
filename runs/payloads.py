"""Payload storage: every step's input and output payloads, small ones in the row, large ones in storage."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from runs.errors import PayloadTooLarge
from runs.models import Payload, Run, Step

# Bodies up to this size live in Payload.body; larger ones go through Django's default storage.
INLINE_LIMIT = 256 * 1024


def storable_text(text: str | None) -> str | None:
    """`text` with NUL characters replaced by U+FFFD: PostgreSQL text and jsonb cannot hold NUL, and a
    payload must never fail to be stored because an upstream sent a binary byte."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")


def payload_size(text: str | None) -> int:
    return len(text.encode("utf-8")) if text else 0


def check_payload_size(text: str | None) -> int:
    """The payload's size in bytes; raises `PayloadTooLarge` above PATCHBAY_MAX_PAYLOAD_BYTES."""
    size = payload_size(text)
    limit = int(settings.PATCHBAY_MAX_PAYLOAD_BYTES)
    if size > limit:
        raise PayloadTooLarge(size, limit)
    return size


def save_payload_file(text: str) -> str:
    """Write a large payload to the default storage and return its storage name."""
    name = f"payloads/{uuid.uuid4().hex}.txt"
    return default_storage.save(name, ContentFile(text.encode("utf-8")))


def build_payload(
    *,
    run: Run,
    step: Step | None,
    direction: str,
    index: int,
    text: str | None,
    meta: dict[str, Any] | None,
    file_name: str | None = None,
) -> Payload:
    """The unsaved Payload row keeping `text` (in `body` when small, else in a storage file, written now).

    The engine inserts a step's payloads together (`Payload.objects.bulk_create`) in its checkpoint
    transaction. `file_name` reuses a storage file that already holds the same text (an output passed on
    as the next step's input) instead of writing it again.
    """
    size = payload_size(text)
    payload = Payload(run=run, step=step, direction=direction, index=index, size=size, meta=meta or {})
    if text is not None and size > INLINE_LIMIT:
        payload.file.name = file_name or save_payload_file(text)
    else:
        payload.body = text
    return payload


def store_payload(
    *,
    run: Run,
    step: Step | None,
    direction: str,
    index: int,
    text: str | None,
    meta: dict[str, Any] | None,
    file_name: str | None = None,
) -> Payload:
    """Keep `text` for inspection as a Payload row (see `build_payload`), saved at once."""
    payload = build_payload(
        run=run, step=step, direction=direction, index=index, text=text, meta=meta, file_name=file_name
    )
    payload.save()
    return payload


def read_payload(payload: Payload) -> str | None:
    """The text of a stored payload, wherever it lives."""
    if payload.file and payload.file.name:
        with default_storage.open(payload.file.name, "rb") as handle:
            return handle.read().decode("utf-8")
    return payload.body
