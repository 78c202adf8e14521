"""Domain errors of the runs app."""

from __future__ import annotations

from connectors.errors import ConnectorError

__all__ = ["ConnectorError", "PayloadTooLarge", "RunRefused"]


class RunRefused(Exception):
    """A run cannot be started, retried or stopped in its current state (the API answers 4xx)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLarge(Exception):
    """A payload is larger than settings.PATCHBAY_MAX_PAYLOAD_BYTES."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"Payload of {size} bytes exceeds the limit of {limit} bytes (PATCHBAY_MAX_PAYLOAD_BYTES)."
        )
        self.size = size
        self.limit = limit
