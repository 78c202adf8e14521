"""What a shape returns: payloads per outgoing connection, a step retry, or a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class WorkPayload:
    """The payload a step works on: text (JSON, XML, CSV or plain) plus string meta."""

    payload: str | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Emit:
    """One output payload and the outgoing connections it goes down.

    `label` None means every outgoing connection; otherwise the connections carrying that label (route
    labels, "try" / "catch"). `order` picks one branch connection; `scope` ("branch" / "try") asks the
    engine to remember where the payload came from (branch order, the try / catch it entered).
    """

    payload: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    order: int | None = None
    scope: str | None = None


@dataclass
class Outcome:
    kind: str  # "continue" | "retry" | "fail"
    emits: list[Emit] = field(default_factory=list)
    error: str = ""
    # Seconds the upstream asked us to wait (Retry-After) before the step's next attempt.
    retry_after: float | None = None
    # Response code 2: fail the run and queue a new attempt of it. Never caught by try / catch.
    retry_run: bool = False
    http_status: int | None = None

    @classmethod
    def ok(cls, emits: list[Emit] | None = None, *, http_status: int | None = None) -> Outcome:
        return cls(kind="continue", emits=list(emits or []), http_status=http_status)

    @classmethod
    def retry(
        cls, error: str, *, retry_after: float | None = None, http_status: int | None = None
    ) -> Outcome:
        return cls(kind="retry", error=error, retry_after=retry_after, http_status=http_status)

    @classmethod
    def fail(cls, error: str, *, retry_run: bool = False, http_status: int | None = None) -> Outcome:
        return cls(kind="fail", error=error, retry_run=retry_run, http_status=http_status)


def setting_id(value: Any) -> int | None:
    """A shape setting that references a row by id, or None when it is missing or not a whole number."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class StepFailed(Exception):
    """Raised inside a shape to fail its step with a clear message (the engine turns it into an Outcome)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
