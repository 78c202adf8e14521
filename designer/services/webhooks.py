"""Writes of a flow's webhook: a new key, and the HMAC signature check of its calls."""

from __future__ import annotations

from typing import Any

from config.api_errors import ApiError
from designer.models import Flow, new_webhook_key


def rotate_webhook_key(*, flow: Flow) -> Flow:
    """Give `flow` a new webhook key: calls to the old URL get 404 from now on."""
    flow.webhook_key = new_webhook_key()
    flow.save(update_fields=["webhook_key", "updated_at"])
    return flow


def configure_webhook(*, flow: Flow, secret: str | None = None, **fields: Any) -> Flow:
    """Set the signature check (`signature_header` "" turns it off). `secret` None keeps the stored one,
    "" removes it. Raises ApiError (400) for a check that could never pass (a header without a secret)."""
    for name in ("signature_header", "signature_algorithm", "signature_encoding", "signature_prefix"):
        if name in fields:
            setattr(flow, f"webhook_{name}", fields[name])
    if secret is not None:
        flow.set_webhook_secret(secret)
    if flow.webhook_signature_header and not flow.webhook_secret_encrypted:
        raise ApiError(
            "A signature check needs the shared secret.",
            [{"field": "secret", "message": "Give the secret the caller signs with."}],
        )
    flow.save()
    return flow
