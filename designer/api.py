"""The designer REST API (DESIGN section 7): connectors, endpoints, flows, drafts, deploys, versions,
export / import and the shape types. Views parse input, call one service and shape the output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.json_input import query_int
from config.permissions import CanReadOnly, CanWrite
from config.revisions import revision_from
from designer import copying, services, usage
from designer.connection_check import check_connection
from designer.graph import GraphError, shape_type_descriptions, validate_graph
from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.serializers import (
    ConnectionTestRequestSerializer,
    ConnectionTestResultSerializer,
    ConnectorSerializer,
    CopyRequestSerializer,
    DraftSerializer,
    EndpointSerializer,
    FlowDeployRequestSerializer,
    FlowDeployResultSerializer,
    FlowExportSerializer,
    FlowImportRequestSerializer,
    FlowImportResultSerializer,
    FlowSerializer,
    FlowVersionDetailSerializer,
    FlowVersionSerializer,
    GraphSerializer,
    GraphValidationResultSerializer,
    ShapeTypeSerializer,
    WebhookSerializer,
)
from runs import services as run_services
from runs.api.serializers import RunDetailSerializer, StartRunSerializer
from runs.errors import RunRefused
from runs.models import Run
from runs.templating import TemplateError

ErrorSerializer = inline_serializer(
    "ApiErrorResponse",
    {
        "detail": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


class ConnectorViewSet(viewsets.ModelViewSet):
    """Connectors. Secrets (`password`, `token`, `api_key`, `client_secret`) are write-only."""

    queryset = Connector.objects.all()
    serializer_class = ConnectorSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [SearchFilter]
    search_fields = ["name", "description", "base_url"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ConnectorSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields, secrets = serializer.split_secrets()
        fields.pop("revision", None)  # a new connector starts at revision 1
        connector = services.create_connector(secrets=secrets, **fields)
        return Response(self.get_serializer(connector).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        connector = self.get_object()
        serializer = ConnectorSerializer(
            connector,
            data=request.data,
            partial=kwargs.get("partial", False),
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        fields, secrets = serializer.split_secrets()
        based_on = fields.pop("revision", None)
        connector = services.update_connector(
            connector=connector, secrets=secrets, based_on=based_on, **fields
        )
        return Response(self.get_serializer(connector).data)

    @extend_schema(responses={204: None, 409: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deletes the connector and its endpoints; 409 listing the flows (draft or deployed) using it."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: Connector) -> None:
        usage.refuse_if_used(kind="connector", pk=instance.pk, name=instance.name)
        services.delete_connector(connector=instance)

    @extend_schema(request=CopyRequestSerializer, responses={201: ConnectorSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        """A copy with the same settings, secrets and endpoints, named "<name> (copy)" unless `name`."""
        body = CopyRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        connector = copying.copy_connector(connector=self.get_object(), name=body.validated_data.get("name"))
        return Response(self.get_serializer(connector).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ConnectionTestRequestSerializer,
        responses={200: ConnectionTestResultSerializer, 400: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send one real request (an endpoint of this connector, or GET its base URL); report the answer."""
        connector = self.get_object()
        body = ConnectionTestRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        endpoint: Endpoint | None = None
        endpoint_id = body.validated_data.get("endpoint")
        if endpoint_id is not None:
            endpoint = Endpoint.objects.filter(pk=endpoint_id, connector=connector).first()
            if endpoint is None:
                raise ApiError(
                    "The endpoint does not belong to this connector.",
                    [{"field": "endpoint", "message": f"No endpoint {endpoint_id} on this connector."}],
                )
        try:
            result = check_connection(
                connector=connector, endpoint=endpoint, variables=body.validated_data.get("variables")
            )
        except TemplateError as exc:
            raise ApiError(
                f"Template error: {exc.message}",
                [{"field": "endpoint" if endpoint is not None else "connector", "message": exc.message}],
            ) from exc
        return Response(ConnectionTestResultSerializer(result.as_dict()).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("connector", OpenApiTypes.INT, description="Only this connector's.")]
    )
)
class EndpointViewSet(viewsets.ModelViewSet):
    """Endpoints of connectors; `?connector=ID` lists one connector's."""

    serializer_class = EndpointSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [SearchFilter]
    search_fields = ["name", "description", "path"]

    def get_queryset(self) -> QuerySet[Endpoint]:
        queryset = Endpoint.objects.select_related("connector")
        if self.action == "list" and "connector" in self.request.query_params:
            # ASCII digits within the id column's range (config/json_input.py); `²` and 2**70 are 400.
            detail, message = "The 'connector' filter must be a connector id.", "A valid integer is required."
            connector = query_int(self.request.query_params, "connector", detail=detail, message=message)
            if connector is None:
                raise ApiError(detail, [{"field": "connector", "message": message}])
            queryset = queryset.filter(connector_id=connector)
        return queryset

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.create_endpoint(**serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.update_endpoint(
            endpoint=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Endpoint) -> None:
        usage.refuse_if_used(kind="endpoint", pk=instance.pk, name=instance.name)
        services.delete_endpoint(endpoint=instance)


def _draft_response(draft: FlowVersion, errors: list[GraphError]) -> Response:
    return Response(
        DraftSerializer(
            {
                "shapes": draft.graph.get("shapes", []),
                "connections": draft.graph.get("connections", []),
                "errors": errors,
                "revision": draft.revision,
                "updated_at": draft.updated_at,
                **usage.draft_status(flow=draft.flow, draft=draft),
            }
        ).data
    )


class FlowViewSet(viewsets.ModelViewSet):
    """Process flows: their settings here, their graph through `draft`, `deploy` and `versions`."""

    serializer_class = FlowSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [SearchFilter]
    search_fields = ["name", "description"]

    def get_queryset(self) -> QuerySet[Flow]:
        deployed = FlowVersion.objects.filter(flow=OuterRef("pk"), status=FlowVersion.Status.DEPLOYED)
        runs = Run.objects.filter(flow=OuterRef("pk")).order_by("-id")
        return Flow.objects.annotate(
            deployed_number=Subquery(deployed.values("number")[:1]),
            last_run_id=Subquery(runs.values("id")[:1]),
            last_run_status=Subquery(runs.values("status")[:1]),
            last_run_started_at=Subquery(runs.values("started_at")[:1]),
            last_run_finished_at=Subquery(runs.values("finished_at")[:1]),
        )

    def get_permissions(self) -> Sequence[Any]:
        if self.action == "validate":
            # Validation writes nothing, so any role may ask.
            return [CanReadOnly()]
        if self.action in ("webhook", "rotate_webhook"):
            # Whoever knows the webhook URL can start runs: only roles that may run the flow see it.
            return [CanWrite()]
        return super().get_permissions()

    def _webhook_answer(self, request: Request, flow: Flow) -> Response:
        url = request.build_absolute_uri(flow.webhook_path)
        return Response(WebhookSerializer(WebhookSerializer.describe(flow, url)).data)

    @extend_schema(methods=["GET"], responses=WebhookSerializer)
    @extend_schema(
        methods=["PUT", "PATCH"],
        request=WebhookSerializer,
        responses={200: WebhookSerializer, 400: ErrorSerializer},
    )
    @action(detail=True, methods=["get", "put", "patch"])
    def webhook(self, request: Request, pk: str | None = None) -> Response:
        """The webhook URL and its signature check (editors and admins only; the secret is write-only)."""
        flow = self.get_object()
        if request.method != "GET":
            body = WebhookSerializer(data=request.data, partial=True)
            body.is_valid(raise_exception=True)
            fields = dict(body.validated_data)
            flow = services.configure_webhook(flow=flow, secret=fields.pop("secret", None), **fields)
        return self._webhook_answer(request, flow)

    @extend_schema(request=None, responses=WebhookSerializer)
    @action(detail=True, methods=["post"], url_path="webhook/rotate")
    def rotate_webhook(self, request: Request, pk: str | None = None) -> Response:
        """A new webhook key: the old URL stops working at once."""
        flow = services.rotate_webhook_key(flow=self.get_object())
        return self._webhook_answer(request, flow)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.create_flow(created_by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.update_flow(flow=serializer.instance, **serializer.validated_data)

    @extend_schema(responses={204: None, 409: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deletes the flow with its versions and runs; 409 while runs are active or while another flow's
        run_flow shape calls it (the error items list those flows)."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: Flow) -> None:
        usage.refuse_if_used(kind="flow", pk=instance.pk, name=instance.name)
        services.delete_flow(flow=instance)

    @extend_schema(request=CopyRequestSerializer, responses={201: FlowSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        """A new flow with this flow's settings and draft (not deployed), named "<name> (copy)" unless
        `name`."""
        body = CopyRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        flow = copying.copy_flow(
            flow=self.get_object(), name=body.validated_data.get("name"), user=request.user
        )
        data = FlowSerializer(self.get_queryset().get(pk=flow.pk), context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=StartRunSerializer,
        responses={201: RunDetailSerializer, 400: ErrorSerializer},
        description="Runs the draft as it is now, without deploying it: a test run (`is_test`), also for a "
        "disabled or never deployed flow. 400 with the graph errors when the draft is invalid.",
    )
    @action(detail=True, methods=["post"], url_path="test-run")
    def test_run(self, request: Request, pk: str | None = None) -> Response:
        flow = self.get_object()
        body = StartRunSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        errors = validate_graph(services.get_draft(flow=flow).graph, flow=flow)
        if errors:
            raise ApiError("The draft is invalid; fix it before a test run.", errors)
        trigger = (
            Run.Trigger.API
            if isinstance(request.successful_authenticator, TokenAuthentication)
            else (Run.Trigger.MANUAL)
        )
        try:
            run = run_services.enqueue_run(
                flow=flow,
                trigger=trigger,
                payload=body.validated_data.get("payload"),
                variables=body.validated_data.get("variables") or {},
                user=request.user,
                test=True,
            )
        except RunRefused as refusal:
            raise ApiError(refusal.message, status_code=status.HTTP_409_CONFLICT) from refusal
        detail = Run.objects.select_related("flow", "flow_version", "created_by").get(pk=run.pk)
        return Response(RunDetailSerializer(detail).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=DraftSerializer)
    @extend_schema(
        methods=["PUT"],
        request=GraphSerializer,
        responses={200: DraftSerializer, 400: ErrorSerializer},
        description="Saves the draft graph even when it has semantic errors (they are returned); a graph "
        "that is not an object with 'shapes' and 'connections' lists is refused.",
    )
    @action(detail=True, methods=["get", "put"])
    def draft(self, request: Request, pk: str | None = None) -> Response:
        flow = self.get_object()
        if request.method == "PUT":
            draft, errors = services.save_draft(
                flow=flow, graph=request.data, based_on=revision_from(request.data)
            )
        else:
            draft = services.get_draft(flow=flow)
            errors = validate_graph(draft.graph, flow=flow)
        return _draft_response(draft, errors)

    @extend_schema(
        request=GraphSerializer,
        responses={200: GraphValidationResultSerializer, 400: ErrorSerializer},
        description="Validates the posted graph, or the draft when the body is empty. 400 lists the errors.",
    )
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, pk: str | None = None) -> Response:
        flow = self.get_object()
        graph = request.data if request.data not in ({}, None, "") else services.get_draft(flow=flow).graph
        errors = validate_graph(graph, flow=flow)
        if errors:
            raise ApiError("The flow graph is invalid.", errors)
        return Response({"valid": True, "errors": []})

    @extend_schema(
        request=FlowDeployRequestSerializer,
        responses={201: FlowDeployResultSerializer, 400: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def deploy(self, request: Request, pk: str | None = None) -> Response:
        flow = self.get_object()
        body = FlowDeployRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        version = services.deploy_flow(flow=flow, user=request.user, comment=body.validated_data["comment"])
        return Response({"version": version.number}, status=status.HTTP_201_CREATED)

    @extend_schema(responses=FlowVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        flow = self.get_object()
        versions = flow.versions.select_related("deployed_by").order_by(F("number").desc(nulls_first=True))
        return Response(FlowVersionSerializer(versions, many=True).data)

    @extend_schema(responses=FlowVersionDetailSerializer)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request: Request, pk: str | None = None, number: str = "") -> Response:
        flow = self.get_object()
        version = get_object_or_404(flow.versions.select_related("deployed_by"), number=int(number))
        return Response(FlowVersionDetailSerializer(version).data)

    @extend_schema(request=None, responses={200: DraftSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]+)/restore")
    def restore(self, request: Request, pk: str | None = None, number: str = "") -> Response:
        flow = self.get_object()
        draft, errors = services.restore_version(flow=flow, number=int(number))
        return _draft_response(draft, errors)

    @extend_schema(responses=FlowExportSerializer)
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> Response:
        return Response(services.export_flow(flow=self.get_object()))

    @extend_schema(
        request=FlowImportRequestSerializer,
        responses={201: FlowImportResultSerializer, 400: ErrorSerializer},
        description="Creates a flow from an export. References are resolved by name; a name that is taken "
        "needs a new 'name'.",
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        body = FlowImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = dict(request.data)
        name = document.pop("name", None)
        flow, errors = services.import_flow(document=document, name=name, created_by=request.user)
        data = FlowSerializer(self.get_queryset().get(pk=flow.pk), context=self.get_serializer_context()).data
        return Response({**data, "errors": errors}, status=status.HTTP_201_CREATED)


class ShapeTypeListView(APIView):
    """The shape types the canvas offers, each with its settings as JSON Schema (docs/shapes.md)."""

    @extend_schema(responses=ShapeTypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(shape_type_descriptions())
