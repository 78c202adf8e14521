"""Optimistic concurrency for flow drafts, script drafts and connectors (docs/contracts.md).

A GET answers the object's `revision`; a write carries the revision it was based on and increments it. A
write based on an older revision is refused with 409 `{"detail", "errors": [{"field": "revision"}],
"revision": current}`, so an editor can reload or overwrite (write again based on the current revision).
A write without a revision (a client from before revisions) is accepted: last writer wins, as it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.api_errors import ApiError
from config.json_input import INT32_MAX


def revision_from(data: Mapping[str, Any] | Any) -> int | None:
    """The `revision` of a write's body (None when absent); 400 when it is not an integer 1..2**31-1."""
    if not isinstance(data, Mapping) or data.get("revision") is None:
        return None
    value = data["revision"]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT32_MAX:
        raise ApiError(
            "Invalid revision.",
            [
                {
                    "field": "revision",
                    "message": f"Expected the revision the change is based on (1 to {INT32_MAX}).",
                }
            ],
        )
    return value


def check_revision(*, based_on: int | None, current: int, what: str) -> None:
    """Raise 409 when a write based on revision `based_on` meets `current` (the caller holds the row lock)."""
    if based_on is None or based_on == current:
        return
    raise ApiError(
        f"{what} was changed by someone else (now revision {current}; this change was based on {based_on}). "
        "Reload it, or send the change again with the current revision to overwrite.",
        [{"field": "revision", "message": f"Stale revision {based_on}; the current revision is {current}."}],
        status_code=409,
        extra={"revision": current},
    )
