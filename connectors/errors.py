"""Errors of outbound HTTP calls. The retry policy reads only `retryable`."""

from __future__ import annotations


class ConnectorError(Exception):
    """An outbound HTTP call failed. The retry policy reads only `retryable`.

    The message is shown to every role that may read the run: whoever raises one must leave secrets out of it
    (`connectors.client.send` builds its messages from the redacted URL and never from header values).
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class RequestRefused(ConnectorError):
    """The request would send a connector's credentials somewhere they do not belong (another origin, a path
    that changes the host, a bad body). Never retryable: the same input builds the same request."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PaginationError(ConnectorError):
    """The next page cannot be found or may not be fetched (not retryable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
