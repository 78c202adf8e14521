"""Run history API (DESIGN section 7): runs with filters, run detail with steps, attempts and insights,
log lines after a sequence number, step payloads and their download. Read-only: every role may read.

Routes (mounted under /api/ by runs/urls.py):

- `GET /api/runs/?flow=&status=&trigger=&started_from=&started_to=&has_warnings=&limit=&offset=`
- `GET /api/runs/{id}/`
- `GET /api/runs/{id}/logs/?after=SEQ&level=LEVEL&limit=N`
- `GET /api/runs/{id}/graph/` (the graph the run executes: a test run's draft snapshot, else its version's)
- `GET /api/runs/{id}/steps/{step_id}/payloads/`
- `GET /api/runs/{id}/steps/{step_id}/attempts/`
- `GET /api/payloads/{id}/download/`
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.json_input import query_int
from runs.api.serializers import RunDetailSerializer, RunSerializer, StepSerializer
from runs.models import Attempt, LogLine, Payload, Run, Step

# Lowest level first: `?level=warning` returns warnings and errors.
LEVEL_ORDER: list[str] = [LogLine.Level.DEBUG, LogLine.Level.INFO, LogLine.Level.WARNING, LogLine.Level.ERROR]
LOG_PAGE_DEFAULT = 1000
LOG_PAGE_MAX = 5000
# Payload bodies up to this size are shown inline in the payload list; larger ones only by download.
INLINE_BODY_MAX = 64 * 1024


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = [
            "id",
            "number",
            "started_at",
            "duration_ms",
            "request",
            "response",
            "http_status",
            "outcome",
            "response_code",
            "message",
        ]


class StepWithAttemptsSerializer(StepSerializer):
    connector_attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(StepSerializer.Meta):
        fields = [*StepSerializer.Meta.fields, "connector_attempts"]
        read_only_fields = fields


class RunHistoryDetailSerializer(RunDetailSerializer):
    """The run detail of runs.api.serializers with each step's connector attempts and complete insights."""

    steps = StepWithAttemptsSerializer(many=True, read_only=True)
    insights = serializers.SerializerMethodField()

    def get_insights(self, run: Run) -> dict[str, Any]:
        return run_insights(run)


class LogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = LogLine
        fields = ["seq", "ts", "level", "step", "message", "data"]


class PayloadSerializer(serializers.ModelSerializer):
    body = serializers.SerializerMethodField()
    body_inline = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Payload
        fields = [
            "id",
            "direction",
            "index",
            "size",
            "meta",
            "created_at",
            "body_inline",
            "body",
            "download_url",
        ]

    def get_body_inline(self, payload: Payload) -> bool:
        return not payload.file and payload.body is not None and len(payload.body) <= INLINE_BODY_MAX

    def get_body(self, payload: Payload) -> str | None:
        return payload.body if self.get_body_inline(payload) else None

    def get_download_url(self, payload: Payload) -> str:
        return f"/api/payloads/{payload.pk}/download/"


INSIGHT_KEYS = ("duration_ms", "steps", "http_calls", "bytes_in", "bytes_out", "script_cpu_ms")


def _body_size(message: Any) -> int:
    """Bytes of the `body` of a stored request or response (`{"body": str, ...}`), 0 when absent."""
    if not isinstance(message, dict):
        return 0
    body = message.get("body")
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    return 0


def run_insights(run: Run) -> dict[str, Any]:
    """The run's insights: what the engine stored when the run ended, completed from the rows.

    Keys the engine did not fill (or all of them, for a run that is still going) are computed from the
    steps and attempts; script CPU time exists only where the engine measured it.
    """
    stored = dict(run.insights or {})
    if all(key in stored for key in INSIGHT_KEYS):
        return stored
    computed: dict[str, Any] = {"script_cpu_ms": 0}
    if run.started_at is not None:
        end = run.finished_at or timezone.now()
        computed["duration_ms"] = round((end - run.started_at).total_seconds() * 1000)
    else:
        computed["duration_ms"] = 0
    steps = list(run.steps.all())
    computed["steps"] = len(steps)
    attempts = [attempt for step in steps for attempt in step.connector_attempts.all()]
    computed["http_calls"] = len(attempts)
    computed["bytes_out"] = sum(_body_size(attempt.request) for attempt in attempts)
    computed["bytes_in"] = sum(_body_size(attempt.response) for attempt in attempts)
    return {**computed, **stored}


def _is_plain_date(raw: str) -> bool:
    try:
        return parse_date(raw) is not None
    except ValueError:
        return False


def _parse_instant(name: str, raw: str, *, end_of_day: bool) -> datetime.datetime:
    """An ISO date-time, or a plain date meaning its start (or, for an upper bound, the next day's start)."""
    try:
        value = None if _is_plain_date(raw) else parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        day = parse_date(raw) if _is_plain_date(raw) else None
        if day is None:
            raise ApiError(
                "Invalid filter.",
                [{"field": name, "message": "Expected an ISO 8601 date or date-time."}],
            )
        if end_of_day:
            day += datetime.timedelta(days=1)
        value = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def _parse_positive_int(name: str, raw: str) -> int:
    value = query_int({name: raw}, name, minimum=0)
    return value if value is not None else 0


def _parse_choice(name: str, raw: str, choices: list[str]) -> str:
    if raw not in choices:
        raise ApiError(
            "Invalid filter.", [{"field": name, "message": f"Expected one of: {', '.join(choices)}."}]
        )
    return raw


def filter_runs(params: Any) -> QuerySet[Run]:
    """Runs matching the query parameters of `GET /api/runs/`, newest first. Raises ApiError (400)."""
    runs = Run.objects.select_related("flow", "flow_version", "created_by").order_by("-id")
    if raw := params.get("flow"):
        runs = runs.filter(flow_id=_parse_positive_int("flow", raw))
    if raw := params.get("status"):
        runs = runs.filter(status=_parse_choice("status", raw, list(Run.Status.values)))
    if raw := params.get("trigger"):
        runs = runs.filter(trigger=_parse_choice("trigger", raw, list(Run.Trigger.values)))
    if raw := params.get("started_from"):
        runs = runs.filter(started_at__gte=_parse_instant("started_from", raw, end_of_day=False))
    if raw := params.get("started_to"):
        # A date-time is inclusive; a plain date includes that whole day.
        if _is_plain_date(raw):
            runs = runs.filter(started_at__lt=_parse_instant("started_to", raw, end_of_day=True))
        else:
            runs = runs.filter(started_at__lte=_parse_instant("started_to", raw, end_of_day=False))
    if raw := params.get("has_warnings"):
        flag = _parse_choice("has_warnings", raw.lower(), ["true", "false", "1", "0"])
        runs = runs.filter(has_warnings=flag in ("true", "1"))
    return runs


_RUN_FILTERS = [
    OpenApiParameter("flow", OpenApiTypes.INT, description="Flow id"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=list(Run.Status.values)),
    OpenApiParameter("trigger", OpenApiTypes.STR, enum=list(Run.Trigger.values)),
    OpenApiParameter("started_from", OpenApiTypes.DATETIME, description="Started at or after (ISO 8601)"),
    OpenApiParameter("started_to", OpenApiTypes.DATETIME, description="Started at or before (ISO 8601)"),
    OpenApiParameter("has_warnings", OpenApiTypes.BOOL),
]


@extend_schema(parameters=_RUN_FILTERS)
class RunListView(generics.ListAPIView):
    """Runs, newest first, paginated with `limit` and `offset`."""

    serializer_class = RunSerializer

    def get_queryset(self) -> QuerySet[Run]:
        return filter_runs(self.request.query_params)


class RunDetailView(generics.RetrieveAPIView):
    """One run with its steps, each connector step's attempts, and insights."""

    serializer_class = RunHistoryDetailSerializer
    lookup_url_kwarg = "run_id"

    def get_queryset(self) -> QuerySet[Run]:
        steps = Step.objects.order_by("id").prefetch_related("connector_attempts")
        return Run.objects.select_related("flow", "flow_version", "created_by").prefetch_related(
            Prefetch("steps", queryset=steps)
        )


class RunGraphSerializer(serializers.Serializer):
    is_test = serializers.BooleanField()
    flow_version_number = serializers.IntegerField(allow_null=True)
    graph = serializers.JSONField(help_text="The flow graph JSON (DESIGN section 6) the run executes.")


class RunGraphView(APIView):
    """The graph a run executes: a test run's draft snapshot (taken when it was queued), else its flow
    version's. The designer paints a run's live status on the shapes of this graph, not on the canvas."""

    @extend_schema(responses=RunGraphSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = _get_run(run_id)
        number = None if run.is_test else run.flow_version.number
        return Response(
            RunGraphSerializer(
                {"is_test": run.is_test, "flow_version_number": number, "graph": run.graph_to_run}
            ).data
        )


def _get_run(run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise ApiError("Run not found.", status_code=404)
    return run


def _get_step(run_id: int, step_id: int) -> Step:
    _get_run(run_id)
    step = Step.objects.filter(pk=step_id, run_id=run_id).first()
    if step is None:
        raise ApiError("Step not found in this run.", status_code=404)
    return step


class RunLogsView(APIView):
    """Log lines of a run after a sequence number, oldest first; `next` continues after the last one."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Only lines with a larger seq"),
            OpenApiParameter(
                "level", OpenApiTypes.STR, enum=list(LogLine.Level.values), description="Minimum level"
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most {LOG_PAGE_MAX}"),
        ],
        responses=LogLineSerializer(many=True),
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = _get_run(run_id)
        params = request.query_params
        after = _parse_positive_int("after", params["after"]) if params.get("after") else 0
        limit = LOG_PAGE_DEFAULT
        if params.get("limit"):
            limit = max(1, min(_parse_positive_int("limit", params["limit"]), LOG_PAGE_MAX))
        lines = LogLine.objects.filter(run=run, seq__gt=after)
        if params.get("level"):
            level = _parse_choice("level", params["level"].lower(), list(LogLine.Level.values))
            lines = lines.filter(level__in=LEVEL_ORDER[LEVEL_ORDER.index(level) :])
        count = lines.count()
        page = list(lines.order_by("seq")[:limit])
        next_url = None
        if count > len(page):
            query = params.copy()
            query["after"] = str(page[-1].seq)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "count": count,
                "next": next_url,
                "previous": None,
                "results": LogLineSerializer(page, many=True).data,
            }
        )


class StepPayloadsView(generics.ListAPIView):
    """The input and output payloads of one step (bodies inline up to 64 KiB, every one downloadable)."""

    serializer_class = PayloadSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Payload]:
        step = _get_step(self.kwargs["run_id"], self.kwargs["step_id"])
        return Payload.objects.filter(step=step).order_by("direction", "index", "id")


class StepAttemptsView(generics.ListAPIView):
    """The connection attempts of a connector step with request and response (secrets were redacted)."""

    serializer_class = AttemptSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Attempt]:
        step = _get_step(self.kwargs["run_id"], self.kwargs["step_id"])
        return Attempt.objects.filter(step=step).order_by("number", "id")


def header_value(value: Any) -> str:
    """`value` as one header line: payload meta comes from upstreams and scripts, and a CR or LF in it would
    split the header (Django refuses such a header with an error, a 500)."""
    if value is None:
        return ""
    return " ".join(str(value).split()).strip()


class PayloadDownloadView(APIView):
    """A payload body as a file download, whether it is stored in the database or in file storage."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, payload_id: int) -> HttpResponseBase:
        payload = Payload.objects.filter(pk=payload_id).first()
        if payload is None:
            raise ApiError("Payload not found.", status_code=404)
        step_part = f"-step-{payload.step_id}" if payload.step_id else ""
        filename = f"run-{payload.run_id}{step_part}-{payload.direction}-{payload.index}.txt"
        content_type = header_value((payload.meta or {}).get("content_type")) or "text/plain; charset=utf-8"
        if payload.file:
            try:
                handle = payload.file.open("rb")
            except FileNotFoundError:
                raise ApiError("The payload's file is no longer stored.", status_code=404) from None
            return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
        response = HttpResponse((payload.body or "").encode("utf-8"), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


urlpatterns = [
    path("runs/", RunListView.as_view(), name="run-list"),
    path("runs/<int:run_id>/", RunDetailView.as_view(), name="run-detail"),
    path("runs/<int:run_id>/logs/", RunLogsView.as_view(), name="run-logs"),
    path("runs/<int:run_id>/graph/", RunGraphView.as_view(), name="run-graph"),
    path("runs/<int:run_id>/steps/<int:step_id>/payloads/", StepPayloadsView.as_view(), name="step-payloads"),
    path("runs/<int:run_id>/steps/<int:step_id>/attempts/", StepAttemptsView.as_view(), name="step-attempts"),
    path("payloads/<int:payload_id>/download/", PayloadDownloadView.as_view(), name="payload-download"),
]
