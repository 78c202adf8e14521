"""One validation boundary for JSON coming in: API bodies (`BoundedJSONParser`), webhook bodies and
websocket messages (`loads`), integer query parameters (`query_int`) and list pagination
(`BoundedLimitOffsetPagination`).

What passes the boundary can be stored, read back and rendered everywhere else:

- nesting at most PATCHBAY_JSON_MAX_DEPTH levels (64): Python's parser, serializers and the graph checks
  recurse, and 10,000 levels answered 500;
- integers within a signed 64-bit column (`BIGINT`, what ids and big counters hold); a serializer field
  backed by a 32-bit column says so itself with `max_value=INT32_MAX`;
- floats that are finite (`1e400` parses as infinity, which no JSON column stores);
- strings and object keys that are valid Unicode: a lone surrogate (`"\\ud800"`) cannot be encoded as
  UTF-8, so a row holding one made every later read of it a 500.

Each refusal names the field as a dotted path (`shapes.1.settings.connector`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

if TYPE_CHECKING:
    from config.api_errors import ApiError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonInputError(ValueError):
    """JSON input refused at the boundary: `field` is the dotted path, `message` why."""

    def __init__(self, field: str, message: str, *, detail: str = "Invalid JSON input.") -> None:
        super().__init__(f"{field or 'body'}: {message}")
        self.field = field
        self.message = message
        self.detail = detail

    def as_api_error(self) -> ApiError:
        return _api_error()(self.detail, [{"field": self.field, "message": self.message}])


def _api_error() -> type[ApiError]:
    # Imported late: DRF imports this module (DEFAULT_PARSER_CLASSES) while config.api_errors, which
    # imports DRF's views, is itself still being imported.
    from config.api_errors import ApiError

    return ApiError


def max_depth() -> int:
    return int(getattr(settings, "PATCHBAY_JSON_MAX_DEPTH", 64))


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


def check_value(value: Any, *, check_integers: bool = True, path: str = "") -> None:
    """Raise `JsonInputError` for the first thing in `value` (parsed JSON) the boundary refuses.

    Walks iteratively: the point is to refuse input that is too deep for recursion.
    """
    limit = max_depth()
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                raise JsonInputError(
                    where, f"Nested more than {limit} levels deep.", detail="JSON nested too deep."
                )
            for key, child in item.items():
                key_text = str(key)
                if _SURROGATE.search(key_text):
                    raise JsonInputError(
                        _join(where, key_text.encode("utf-8", "backslashreplace").decode("ascii")),
                        "The key holds a lone surrogate, which is not valid Unicode.",
                    )
                stack.append((child, _join(where, key_text), depth + 1))
        elif isinstance(item, list):
            if depth > limit:
                raise JsonInputError(
                    where, f"Nested more than {limit} levels deep.", detail="JSON nested too deep."
                )
            stack.extend((child, _join(where, index), depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str):
            if _SURROGATE.search(item):
                raise JsonInputError(where, "The text holds a lone surrogate, which is not valid Unicode.")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if check_integers and not INT64_MIN <= item <= INT64_MAX:
                raise JsonInputError(where, "The number is beyond what a 64-bit integer column holds.")
        elif isinstance(item, float) and not math.isfinite(item):
            raise JsonInputError(where, "The number is beyond what a double-precision float holds.")


def loads(text: str | bytes, *, check_integers: bool = True) -> Any:
    """Parse JSON text and check it (see the module docstring); raises `JsonInputError` (a ValueError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonInputError(
            "", f"Nested more than {max_depth()} levels deep.", detail="JSON nested too deep."
        ) from None
    except ValueError as error:
        raise JsonInputError("", f"Not valid JSON: {error}", detail="JSON parse error.") from None
    check_value(value, check_integers=check_integers)
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the boundary's checks: a refusal is a 400 naming the field."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _api_error()(
                "JSON nested too deep.",
                [{"field": "", "message": f"Nested more than {max_depth()} levels deep."}],
            ) from None
        try:
            check_value(data)
        except JsonInputError as error:
            raise error.as_api_error() from None
        return data


def webhook_body_problem(body: bytes, content_type: str | None) -> JsonInputError | None:
    """Why a webhook's JSON body (`Content-Type: application/json` or `+json`) is refused, or None.

    Depth and Unicode only: a payload is data handed to the flow as text, not a column, so numbers of any
    size pass (a script or template reads them).
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not body or not (media_type == "application/json" or media_type.endswith("+json")):
        return None
    try:
        loads(body, check_integers=False)
    except JsonInputError as error:
        # Not JSON at all is left to the flow: a payload may be anything the caller labels it.
        return error if error.detail != "JSON parse error." else None
    return None


def query_int(
    params: Mapping[str, Any],
    name: str,
    *,
    minimum: int = 0,
    maximum: int = INT64_MAX,
    detail: str | None = None,
    message: str | None = None,
) -> int | None:
    """The integer query parameter `name` (None when absent or empty); 400 naming it when it is not ASCII
    digits within `minimum`..`maximum` (`detail` and `message` word the refusal). `'²'.isdigit()` is true
    and `int('²')` fails: digits are checked as ASCII."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    digits = text[1:] if text.startswith("-") else text
    valid = digits.isascii() and digits.isdigit() and len(digits) <= 19
    if not valid or not minimum <= int(text) <= maximum:
        raise _api_error()(
            detail or f"Invalid query parameter '{name}'.",
            [{"field": name, "message": message or f"Expected an integer from {minimum} to {maximum}."}],
        )
    return int(text)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` and `?offset=` checked by `query_int`: 2**70 reached the database and answered 500. Each is
    at most half the 64-bit range, so the SQL `offset + limit` cannot overflow either."""

    def get_limit(self, request: Request) -> int | None:
        value = query_int(request.query_params, self.limit_query_param, maximum=INT64_MAX // 2)
        if not value:
            return self.default_limit
        return min(value, self.max_limit) if self.max_limit else value

    def get_offset(self, request: Request) -> int:
        return query_int(request.query_params, self.offset_query_param, maximum=INT64_MAX // 2) or 0
