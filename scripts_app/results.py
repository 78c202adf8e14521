"""What a script call returns (`ScriptResult`) and how it fails (`ScriptError`). No Django imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_META_BYTES = 10240
RESPONSE_CODES = range(5)


@dataclass
class ScriptResult:
    """The validated outcome of one call of `handle(data)`.

    `data` is the returned dict as is; the other fields are read from it (`flow_variables` is
    `data["flow"]["variables"]`). `logs` holds the print output first, then the returned `logs`.
    """

    data: dict[str, Any]
    payload: str | None
    meta: dict[str, str]
    variables: dict[str, Any]
    flow_variables: dict[str, Any]
    response_code: int | None
    message: str | None
    logs: list[str]
    duration_ms: float
    cpu_ms: float


class ScriptError(Exception):
    """A script call failed: it raised, broke a limit, did not compile or returned something invalid.

    `version` is the version number, or None for a draft. `logs` holds what the script printed before it
    failed. `str()` reads like `Script 'Tidy' v3, line 4: ZeroDivisionError: division by zero`.
    """

    def __init__(
        self,
        *,
        script_name: str,
        version: int | None,
        error_type: str,
        message: str,
        line: int | None = None,
        logs: list[str] | None = None,
        duration_ms: float = 0.0,
    ) -> None:
        self.script_name = script_name
        self.version = version
        self.error_type = error_type
        self.message = message
        self.line = line
        self.logs = logs or []
        self.duration_ms = duration_ms
        super().__init__(str(self))

    def __str__(self) -> str:
        label = f"v{self.version}" if self.version is not None else "(draft)"
        where = f", line {self.line}" if self.line is not None else ""
        return f"Script '{self.script_name}' {label}{where}: {self.error_type}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.error_type, "message": self.message, "line": self.line}


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)


def _string_dict(value: Any, name: str, problems: _Problems, *, string_values: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"{name!r} must be a dict, not {type(value).__name__}")
        return {}
    for key, item in value.items():
        if not isinstance(key, str):
            problems.add(f"{name!r} keys must be strings")
            break
        if string_values and not isinstance(item, str):
            problems.add(f"{name}[{key!r}] must be a string, not {type(item).__name__}")
            break
    return value


def build_result(
    returned: Any,
    *,
    logs: list[str],
    duration_ms: float,
    cpu_ms: float,
    script_name: str,
    version: int | None,
    max_log_bytes: int | None = None,
) -> ScriptResult:
    """Validate what `handle` returned (already decoded from JSON) and build the result.

    Raises ScriptError (type InvalidResult naming every problem found, or LogLimitExceeded when the print
    output, the returned `logs` and `message` together pass `max_log_bytes`; the sandbox checks that first,
    this is the server's own check of what it is about to write).
    """
    problems = _Problems()
    if not isinstance(returned, dict):
        problems.add(f"handle() must return a dict, it returned {type(returned).__name__}")
        returned = {}
    payload = returned.get("payload")
    if payload is not None and not isinstance(payload, str):
        problems.add(f"'payload' must be a string or None, not {type(payload).__name__}")
    meta = _string_dict(returned.get("meta"), "meta", problems, string_values=True)
    meta_bytes = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items() if isinstance(v, str))
    if meta_bytes > MAX_META_BYTES:
        problems.add(f"'meta' holds {meta_bytes} bytes, more than the limit of {MAX_META_BYTES}")
    variables = _string_dict(returned.get("variables"), "variables", problems, string_values=False)
    flow = returned.get("flow")
    flow_variables: dict[str, Any] = {}
    if flow is not None and not isinstance(flow, dict):
        problems.add(f"'flow' must be a dict, not {type(flow).__name__}")
    elif flow is not None:
        flow_variables = _string_dict(flow.get("variables"), "flow.variables", problems, string_values=False)
    response_code = returned.get("response_code")
    if response_code is not None and (
        isinstance(response_code, bool)
        or not isinstance(response_code, int)
        or response_code not in RESPONSE_CODES
    ):
        problems.add(f"'response_code' must be an integer from 0 to 4, not {response_code!r}")
    message = returned.get("message")
    if message is not None and not isinstance(message, str):
        problems.add(f"'message' must be a string, not {type(message).__name__}")
    returned_logs = returned.get("logs")
    if returned_logs is None:
        returned_logs = []
    elif not isinstance(returned_logs, list) or not all(isinstance(line, str) for line in returned_logs):
        problems.add("'logs' must be a list of strings")
        returned_logs = []
    if max_log_bytes is not None and not problems.items:
        texts = [*logs, *returned_logs, *([message] if isinstance(message, str) else [])]
        used = sum(len(text.encode("utf-8", "surrogatepass")) + 1 for text in texts)
        if used > max_log_bytes:
            raise ScriptError(
                script_name=script_name,
                version=version,
                error_type="LogLimitExceeded",
                message=f"log output exceeds the limit of {max_log_bytes} bytes",
                duration_ms=duration_ms,
            )
    if problems.items:
        raise ScriptError(
            script_name=script_name,
            version=version,
            error_type="InvalidResult",
            message="; ".join(problems.items),
            logs=list(logs),
            duration_ms=duration_ms,
        )
    return ScriptResult(
        data=returned,
        payload=payload,
        meta=meta,
        variables=variables,
        flow_variables=flow_variables,
        response_code=response_code,
        message=message,
        logs=[*logs, *returned_logs],
        duration_ms=duration_ms,
        cpu_ms=cpu_ms,
    )
