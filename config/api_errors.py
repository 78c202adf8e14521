"""One error shape for the whole API: `{"detail": str, "errors": [...]}` with a 4xx status.

Field errors become `{"field": "a.b", "message": "..."}` items; domain code raises `ApiError` with its own
items (graph validation uses `{"shape", "setting", "message"}`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, UnsupportedMediaType, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("patchbay.errors")
SERVER_ERROR = "Internal server error. It was logged; tell the administrator the time it happened."
# Paths whose callers are programs: an unexpected error is answered in the API's JSON shape.
JSON_PATHS = ("/api/", "/hooks/", "/healthz", "/metrics")


class ApiError(APIException):
    """A 4xx with a message and a list of error items, raised by views or services."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        detail: str,
        errors: Sequence[Mapping[str, Any]] | None = None,
        *,
        status_code: int = 400,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=detail)
        self.status_code = status_code
        self.errors = [dict(item) for item in errors or []]
        # More keys of the body beside detail and errors (a 409's current `revision`).
        self.extra = dict(extra or {})


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested ValidationError detail into a flat list of field / message items."""
    items: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if key != "non_field_errors" else ""
            field = f"{prefix}.{name}" if prefix and name else (name or prefix)
            items.extend(flatten_errors(value, field))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            items.extend({"field": prefix, "message": str(v)} for v in detail)
        else:
            for index, value in enumerate(detail):
                items.extend(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items.append({"field": prefix, "message": str(detail)})
    return items


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "Request body too large.", "errors": []},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, UnsupportedMediaType):
        # A body the API cannot read is bad input like malformed JSON (issue 2: non-JSON bodies get 400).
        return Response(
            {"detail": f"{exc.detail} Send the body as JSON (Content-Type: application/json).", "errors": []},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ApiError):
        return Response(
            {**exc.extra, "detail": str(exc.detail), "errors": exc.errors}, status=exc.status_code
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        # Not an API exception: a bug. Log it with the traceback; the caller gets no trace of it.
        request = context.get("request")
        logger.error(
            "Unexpected error in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        return Response({"detail": SERVER_ERROR, "errors": []}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, ValidationError):
        response.data = {"detail": "Invalid input.", "errors": flatten_errors(exc.detail)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "errors": []}
    return response


class JsonServerErrorMiddleware:
    """Unexpected errors of non-DRF views under the API's paths (webhooks, health, metrics) become the JSON
    500 the API answers, with a log line, whatever DEBUG says: a program never gets a traceback page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(JSON_PATHS):
            return None
        logger.error("Unexpected error in %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse({"detail": SERVER_ERROR, "errors": []}, status=500)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: JSON under the API's paths, a plain page elsewhere (never details of the error)."""
    if request.path.startswith(JSON_PATHS):
        return JsonResponse({"detail": SERVER_ERROR, "errors": []}, status=500)
    return HttpResponse(
        "<!doctype html><title>Server error</title><h1>Server error</h1><p>" + SERVER_ERROR + "</p>",
        status=500,
    )
