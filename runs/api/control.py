"""Run control API: start a run of a flow, retry a run, stop a run (editor and admin; DESIGN section 7).

`POST /api/flows/{id}/runs/` records the trigger as `api` for token-authenticated callers (scripts and
other systems) and `manual` for people using the app through their session.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from designer.models import Flow
from runs import services
from runs.api.serializers import RunDetailSerializer, StartRunSerializer
from runs.errors import RunRefused
from runs.models import Run, Step


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


class RetryRunView(APIView):
    @extend_schema(request=None, responses={201: RunDetailSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(Run.objects.select_related("flow"), pk=run_id)
        try:
            retry = services.retry_run(run=run, user=request.user)
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


urlpatterns = [
    path("flows/<int:flow_id>/runs/", StartRunView.as_view(), name="flow-start-run"),
    path("runs/<int:run_id>/retry/", RetryRunView.as_view(), name="run-retry"),
    path("runs/<int:run_id>/stop/", StopRunView.as_view(), name="run-stop"),
]
