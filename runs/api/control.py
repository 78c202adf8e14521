"""Run control API: start a run of a flow, retry a run, stop a run, bulk retry / stop (editor and admin;
DESIGN section 7).

`POST /api/flows/{id}/runs/` records the trigger as `api` for token-authenticated callers (scripts and
other systems) and `manual` for people using the app through their session.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from designer.models import Flow
from runs import services
from runs.api.history import filter_runs
from runs.api.serializers import RunDetailSerializer, StartRunSerializer
from runs.bulk import ACTIONS, BULK_LIMIT, apply_bulk_action
from runs.errors import RunRefused
from runs.models import Run, Step
from runs.retries import FROM_START, RETRY_FROM, RETRY_VERSIONS, VERSION_ORIGINAL

# The query parameters of `GET /api/runs/` that a bulk action's `filter` may use.
RUN_FILTERS = ("flow", "status", "trigger", "started_from", "started_to", "has_warnings")


def _run_detail(run_id: int) -> Run:
    return (
        Run.objects.select_related("flow", "flow_version", "created_by")
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("id")))
        .get(pk=run_id)
    )


class StartRunView(APIView):
    @extend_schema(request=StartRunSerializer, responses={201: RunDetailSerializer})
    def post(self, request: Request, flow_id: int) -> Response:
        flow = get_object_or_404(Flow, pk=flow_id)
        serializer = StartRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trigger = (
            Run.Trigger.API
            if isinstance(request.successful_authenticator, TokenAuthentication)
            else (Run.Trigger.MANUAL)
        )
        try:
            run = services.enqueue_run(
                flow=flow,
                trigger=trigger,
                payload=serializer.validated_data.get("payload"),
                variables=serializer.validated_data.get("variables") or {},
                user=request.user,
            )
        except RunRefused as refusal:
            raise ApiError(refusal.message, status_code=status.HTTP_409_CONFLICT) from refusal
        return Response(RunDetailSerializer(_run_detail(run.pk)).data, status=status.HTTP_201_CREATED)


class RetryChoiceSerializer(serializers.Serializer):
    """`from` and `version` of a retry (`from` is a Python keyword, hence the renaming in get_fields)."""

    start_from = serializers.ChoiceField(choices=RETRY_FROM, default=FROM_START, source="start_from")
    version = serializers.ChoiceField(choices=RETRY_VERSIONS, default=VERSION_ORIGINAL)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("start_from")
        return fields


class BulkActionSerializer(RetryChoiceSerializer):
    """Input of `POST /api/runs/bulk/`: an action and either run ids or a runs-list filter."""

    action = serializers.ChoiceField(choices=ACTIONS)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=BULK_LIMIT,
    )
    filter = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_filter(self, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(RUN_FILTERS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown filter(s) {', '.join(unknown)}; known: {', '.join(RUN_FILTERS)}."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": "Give either 'ids' or 'filter', not both or neither."})
        return attrs


class RetryRunView(APIView):
    @extend_schema(request=RetryChoiceSerializer, responses={201: RunDetailSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(Run.objects.select_related("flow"), pk=run_id)
        choice = RetryChoiceSerializer(data=request.data)
        choice.is_valid(raise_exception=True)
        try:
            retry = services.retry_run(
                run=run,
                user=request.user,
                start_from=choice.validated_data["start_from"],
                version=choice.validated_data["version"],
            )
        except RunRefused as refusal:
            raise ApiError(refusal.message, status_code=status.HTTP_409_CONFLICT) from refusal
        return Response(RunDetailSerializer(_run_detail(retry.pk)).data, status=status.HTTP_201_CREATED)


class StopRunView(APIView):
    @extend_schema(request=None, responses={200: RunDetailSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(Run, pk=run_id)
        try:
            services.stop_run(run=run, user=request.user)
        except RunRefused as refusal:
            raise ApiError(refusal.message, status_code=status.HTTP_409_CONFLICT) from refusal
        return Response(RunDetailSerializer(_run_detail(run.pk)).data)


class BulkRunActionView(APIView):
    @extend_schema(request=BulkActionSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        serializer = BulkActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        missing: list[int] = []
        if "ids" in data:
            ids = list(dict.fromkeys(data["ids"]))
            found = {run.pk: run for run in Run.objects.select_related("flow").filter(pk__in=ids)}
            runs = [found[run_id] for run_id in ids if run_id in found]
            missing = [run_id for run_id in ids if run_id not in found]
        else:
            matching = filter_runs(data["filter"]).order_by("id")
            runs = list(matching[: BULK_LIMIT + 1])
            if len(runs) > BULK_LIMIT:
                raise ApiError(
                    f"The filter matches more than {BULK_LIMIT} runs; narrow it down.",
                    [{"field": "filter", "message": f"At most {BULK_LIMIT} runs per bulk action."}],
                )
        result = apply_bulk_action(
            action=data["action"],
            runs=runs,
            missing_ids=missing,
            user=request.user,
            start_from=data["start_from"],
            version=data["version"],
        )
        return Response(result)


urlpatterns = [
    path("runs/bulk/", BulkRunActionView.as_view(), name="runs-bulk"),
    path("flows/<int:flow_id>/runs/", StartRunView.as_view(), name="flow-start-run"),
    path("runs/<int:run_id>/retry/", RetryRunView.as_view(), name="run-retry"),
    path("runs/<int:run_id>/stop/", StopRunView.as_view(), name="run-stop"),
]
