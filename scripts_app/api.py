"""The custom scripts REST API (DESIGN section 7): CRUD, deploy, versions, test runs and templates.

Views parse input, call one service and shape the output. Editors and admins write, deploy and test (a test
run executes code, so it counts as a write); viewers read.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, ProtectedError, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_errors import ApiError
from config.json_input import INT32_MAX
from designer.serializers import CopyRequestSerializer
from scripts_app import services
from scripts_app.models import Script, ScriptVersion, code_checksum
from scripts_app.sandbox.policy import MAX_CODE_CHARS
from scripts_app.script_templates import TEMPLATES

ErrorSerializer = inline_serializer(
    "ScriptApiErrorResponse",
    {"detail": serializers.CharField(), "errors": serializers.ListField(child=serializers.DictField())},
)


class ScriptSerializer(serializers.ModelSerializer):
    code = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_CODE_CHARS
    )
    deployed_version = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    updated_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=INT32_MAX,
        help_text="The draft revision a change is based on (from the GET); a stale one gets 409.",
    )

    class Meta:
        model = Script
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "code",
            "deployed_version",
            "versions",
            "revision",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_deployed_version(self, script: Script) -> int | None:
        for version in script.versions.all():
            if version.status == ScriptVersion.Status.DEPLOYED:
                return version.number
        return None

    def get_versions(self, script: Script) -> list[int]:
        return sorted(version.number for version in script.versions.all())


class ScriptVersionSerializer(serializers.ModelSerializer):
    deployed_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ScriptVersion
        fields = ["number", "status", "checksum", "deployed_at", "deployed_by", "last_invoked_at"]
        read_only_fields = fields


class ScriptVersionDetailSerializer(ScriptVersionSerializer):
    class Meta(ScriptVersionSerializer.Meta):
        fields = [*ScriptVersionSerializer.Meta.fields, "code"]
        read_only_fields = fields


class TestRequestSerializer(serializers.Serializer):
    # DRF's metaclass turns declared fields into `fields` entries, so `data` does not shadow `.data`.
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    result = serializers.DictField(allow_null=True)
    logs = serializers.ListField(child=serializers.CharField())
    error = inline_serializer(
        "ScriptTestError",
        {
            "type": serializers.CharField(),
            "message": serializers.CharField(),
            "line": serializers.IntegerField(allow_null=True),
        },
        allow_null=True,
    )
    duration_ms = serializers.FloatField()


class DeployResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()


class FlowUseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    versions = serializers.ListField(child=serializers.CharField(), help_text='"draft", "deployed v3"')


class UsedBySerializer(serializers.Serializer):
    flows = FlowUseSerializer(many=True)
    follows_latest = FlowUseSerializer(many=True)


class TemplateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    code = serializers.CharField()


_bool_filter = OpenApiParameter(
    "deployed",
    OpenApiTypes.BOOL,
    description="Only scripts with (true) or without (false) a deployed version.",
)
_kind_filter = OpenApiParameter("kind", OpenApiTypes.STR, enum=[k.value for k in Script.Kind])


@extend_schema_view(list=extend_schema(parameters=[_bool_filter, _kind_filter]))
class ScriptViewSet(viewsets.ModelViewSet):
    """Custom scripts: the draft `code` plus numbered, immutable deployed versions."""

    serializer_class = ScriptSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[Script]:
        light_versions = ScriptVersion.objects.only("id", "script_id", "number", "status")
        queryset = Script.objects.select_related("created_by", "updated_by").prefetch_related(
            Prefetch("versions", queryset=light_versions)
        )
        params = self.request.query_params
        deployed = params.get("deployed")
        if deployed is not None:
            has_deployed = Exists(
                ScriptVersion.objects.filter(script=OuterRef("pk"), status=ScriptVersion.Status.DEPLOYED)
            )
            if deployed.lower() in {"true", "1", "yes"}:
                queryset = queryset.filter(has_deployed)
            elif deployed.lower() in {"false", "0", "no"}:
                queryset = queryset.exclude(has_deployed)
            else:
                raise ApiError(
                    "Invalid filter.", [{"field": "deployed", "message": "Must be true or false."}]
                )
        kind = params.get("kind")
        if kind is not None:
            if kind not in Script.Kind.values:
                message = f"Must be one of {', '.join(Script.Kind.values)}."
                raise ApiError("Invalid filter.", [{"field": "kind", "message": message}])
            queryset = queryset.filter(kind=kind)
        return queryset

    def perform_create(self, serializer: ScriptSerializer) -> None:  # type: ignore[override]
        fields = dict(serializer.validated_data)
        fields.pop("revision", None)  # a new script starts at revision 1
        serializer.instance = services.create_script(user=self.request.user, **fields)

    def perform_update(self, serializer: ScriptSerializer) -> None:  # type: ignore[override]
        script = serializer.instance
        assert isinstance(script, Script)
        fields = dict(serializer.validated_data)
        based_on = fields.pop("revision", None)
        services.update_script(script=script, user=self.request.user, based_on=based_on, **fields)

    @extend_schema(responses={204: None, 409: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deletes the script and its versions; 409 listing the flows (draft or deployed) and endpoints that
        use it."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: Script) -> None:
        from designer.usage import refuse_if_used

        refuse_if_used(kind="script", pk=instance.pk, name=instance.name)
        try:
            services.delete_script(script=instance)
        except ProtectedError as exc:
            users = sorted({str(obj) for obj in exc.protected_objects})
            raise ApiError(
                "The script is in use and cannot be deleted.",
                [{"field": "", "message": f"Used by {name}."} for name in users],
                status_code=status.HTTP_409_CONFLICT,
            ) from None

    def _script(self) -> Script:
        return get_object_or_404(Script, pk=self.kwargs["pk"])

    @extend_schema(request=None, responses={201: DeployResultSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def deploy(self, request: Request, pk: str | None = None) -> Response:
        """Compile the draft and make it the next version, or 400 with errors carrying line and column."""
        try:
            version = services.deploy_script(self._script(), request.user)
        except services.ScriptDeployError as exc:
            raise ApiError("The script has errors.", [p.as_dict() for p in exc.problems]) from None
        return Response({"version": version.number}, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=inline_serializer(
            "ScriptVersionListItem",
            {
                "number": serializers.IntegerField(allow_null=True),
                "status": serializers.CharField(),
                "checksum": serializers.CharField(),
                "deployed_at": serializers.DateTimeField(allow_null=True),
                "deployed_by": serializers.CharField(allow_null=True),
                "last_invoked_at": serializers.DateTimeField(allow_null=True),
            },
            many=True,
        )
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """The draft (number null, status draft) followed by the versions, newest first."""
        script = self._script()
        draft = {
            "number": None,
            "status": ScriptVersion.Status.DRAFT.value,
            "checksum": code_checksum(script.code),
            "deployed_at": None,
            "deployed_by": None,
            "last_invoked_at": None,
            "updated_at": script.updated_at,
        }
        versions = (
            ScriptVersion.objects.filter(script=script)
            .select_related("deployed_by")
            .defer("code")
            .order_by("-number")
        )
        return Response([draft, *ScriptVersionSerializer(versions, many=True).data])

    @extend_schema(responses={200: ScriptVersionDetailSerializer})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request: Request, pk: str | None = None, number: str | None = None) -> Response:
        """One version with its code."""
        version = get_object_or_404(
            ScriptVersion.objects.select_related("deployed_by"),
            script=self._script(),
            number=int(number or 0),
        )
        return Response(ScriptVersionDetailSerializer(version).data)

    @extend_schema(request=TestRequestSerializer, responses={200: TestResultSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Run the draft (version null) or a version on `data` in the production sandbox. Whatever the
        script does is reported in the 200 answer (`ok`, `error`), never as a server error."""
        script = self._script()
        body = TestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            outcome = services.test_script(
                script, body.validated_data["data"], body.validated_data["version"]
            )
        except services.ScriptVersionNotFound as exc:
            raise ApiError(str(exc), status_code=status.HTTP_404_NOT_FOUND) from None
        return Response(outcome)

    @extend_schema(
        request=None, responses={200: ScriptSerializer, 404: ErrorSerializer}, operation_id="scripts_restore"
    )
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]+)/restore")
    def restore(self, request: Request, pk: str | None = None, number: str | None = None) -> Response:
        """Copy the code of version `number` into the draft; the versions are unchanged."""
        try:
            script = services.restore_script_version(
                script=self._script(), number=int(number or 0), user=request.user
            )
        except services.ScriptVersionNotFound as exc:
            raise ApiError(str(exc), status_code=status.HTTP_404_NOT_FOUND) from None
        return Response(self.get_serializer(self.get_queryset().get(pk=script.pk)).data)

    @extend_schema(request=CopyRequestSerializer, responses={201: ScriptSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        """A new script with this one's kind, description and draft (no versions), named "<name> (copy)"
        unless `name`."""
        body = CopyRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        try:
            script = services.copy_script(
                script=self._script(), name=body.validated_data.get("name"), user=request.user
            )
        except services.ScriptNameTaken as exc:
            raise ApiError("That name is taken.", [{"field": "name", "message": str(exc)}]) from None
        data = self.get_serializer(self.get_queryset().get(pk=script.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=UsedBySerializer)
    @action(detail=True, methods=["get"], url_path="used-by")
    def used_by(self, request: Request, pk: str | None = None) -> Response:
        """The flows whose draft or deployed version uses this script (`flows`), and those of them that
        follow its latest deployed version (`follows_latest`: deploying a new version changes them)."""
        from designer.usage import flows_using

        script = self._script()
        return Response(
            {
                "flows": flows_using(kind="script", pk=script.pk),
                "follows_latest": flows_using(kind="script", pk=script.pk, latest_only=True),
            }
        )

    @extend_schema(responses=TemplateSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def templates(self, request: Request) -> Response:
        """The code new scripts start from, by kind."""
        return Response([{"kind": kind, **template} for kind, template in TEMPLATES.items()])
