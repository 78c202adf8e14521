"""Domain errors of the runs app."""

from __future__ import annotations


class RunRefused(Exception):
    """A run cannot be started, retried or stopped in its current state (the API answers 4xx)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectorError(Exception):
    """An outbound HTTP call failed. The retry policy reads only `retryable`."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class PayloadTooLarge(Exception):
    """A payload is larger than settings.PATCHBAY_MAX_PAYLOAD_BYTES."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"Payload of {size} bytes exceeds the limit of {limit} bytes (PATCHBAY_MAX_PAYLOAD_BYTES)."
        )
        self.size = size
        self.limit = limit
