"""Payload storage: every step's input and output payloads, small ones in the row, large ones in storage.

This module owns the stored files. A large text is stored once, under a name derived from its SHA-256
(`payloads/sha256/ab/abcd...-<suffix>.txt`, one `PayloadContent` row per text), and every Payload row, work
item and checkpoint holding the same text refers to that one file. Writing or reusing a file marks its
`PayloadContent.last_used_at`; runs.retention deletes a file only when no row, work item or checkpoint refers
to it and it has not been used for the payload retention time (the conditional delete of its
`PayloadContent` row decides a race with a writer reusing it at that moment: the writer then stores the text
again under a new name).
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from runs.errors import PayloadTooLarge
from runs.models import Payload, PayloadContent, Run, Step

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


CONTENT_PREFIX = "payloads/sha256/"


def save_payload_file(text: str) -> str:
    """The storage name of a file holding `text`: the stored one when that text is stored already (marked
    as used now), else a new file. Side effects: a storage write and a `PayloadContent` row for new text."""
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    now = timezone.now()
    existing = PayloadContent.objects.filter(sha256=digest).values_list("name", flat=True).first()
    if existing is not None and touch_payload_file(existing, now=now) and default_storage.exists(existing):
        return existing
    # New text, or its row was pruned a moment ago, or its file was lost: a file of its own, under a name
    # no earlier file had (retention may still be deleting the old one).
    name = default_storage.save(
        f"{CONTENT_PREFIX}{digest[:2]}/{digest}-{uuid.uuid4().hex[:8]}.txt", ContentFile(data)
    )
    try:
        with transaction.atomic():
            updated = PayloadContent.objects.filter(sha256=digest).update(
                name=name, size=len(data), last_used_at=now
            )
            if not updated:
                PayloadContent.objects.create(sha256=digest, name=name, size=len(data), last_used_at=now)
    except IntegrityError:
        # Another writer stored the same text at the same moment: both files are valid; rows refer to the
        # one each writer returned, and retention deletes each once nothing refers to it.
        pass
    return name


def touch_payload_file(name: str, *, now: datetime.datetime | None = None) -> bool:
    """Mark the stored file `name` as used now. False when it has no `PayloadContent` row any more
    (retention took it), so the caller must store the text again; files from before content addressing
    (no row ever) count as touched."""
    updated = PayloadContent.objects.filter(name=name).update(last_used_at=now or timezone.now())
    return bool(updated) or not name.startswith(CONTENT_PREFIX)


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
        if file_name and not touch_payload_file(file_name):
            file_name = None  # pruned in the meantime: store the text again
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
