"""Serializers of the designer API: they validate input and shape output; the writes live in services."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.json_input import INT32_MAX
from config.roles import can_write
from designer.crypto import SecretsUnreadable
from designer.graph.specs import jmespath_problem
from designer.models import Connector, Endpoint, Flow, FlowVersion
from scripts_app.models import Script
from scripts_app.selectors import resolve_script_version


def _string_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k.strip() and isinstance(v, str) for k, v in value.items()
    ):
        raise serializers.ValidationError(f"{what} must be an object of non-empty names to string values.")
    return value


# C0 / C1 control characters and DEL: a pasted secret or header value carrying one (a trailing newline) would
# break the request, and the transport error would quote it.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
HOST_ENTRY = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$"
)


def refuse_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise serializers.ValidationError(
            "Must not contain control characters (a line break, a tab or another invisible character)."
        )
    return value


def no_control_characters(value: str) -> None:
    refuse_control_characters(value)


def header_map_problem(value: dict[str, str], what: str) -> str | None:
    for name, text in value.items():
        if not HEADER_NAME.match(name):
            return f"{what}: {name!r} is not a valid header name."
        if CONTROL_CHARACTERS.search(text):
            return f"{what}: the value of {name!r} must not contain control characters."
    return None


class SecretField(serializers.CharField):
    """A write-only secret: surrounding whitespace trimmed, control characters refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            write_only=True,
            required=False,
            allow_blank=True,
            trim_whitespace=True,
            validators=[no_control_characters],
            **kwargs,
        )


class StringMapField(serializers.JSONField):
    """A JSON object of names to strings (headers, query parameters, flow variables)."""

    def __init__(self, *, what: str = "This field", **kwargs: Any) -> None:
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        return _string_map(super().to_internal_value(data), self.what)


# --- Connectors -------------------------------------------------------------------------------------------


class ConnectorSerializer(serializers.ModelSerializer):
    """Secrets are write-only: leave one out to keep it, send "" to clear it.

    Responses only name the secrets that are set (`secrets_set`), never their values.
    """

    password = SecretField()
    token = SecretField()
    api_key = SecretField()
    client_secret = SecretField()
    secrets_set = serializers.SerializerMethodField()
    default_headers = StringMapField(what="Default headers", required=False)
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=INT32_MAX,
        help_text="The revision a change is based on (from the GET); a stale one gets 409.",
    )
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=100,
        help_text="Hosts ('host' or 'host:port') besides the base URL's that may receive the credentials"
        " (redirects and next-page URLs).",
    )

    class Meta:
        model = Connector
        fields = [
            "id",
            "name",
            "description",
            "base_url",
            "auth_type",
            "username",
            "api_key_name",
            "token_url",
            "client_id",
            "scope",
            "default_headers",
            "timeout",
            "allowed_hosts",
            "cross_origin_redirects",
            "password",
            "token",
            "api_key",
            "client_secret",
            "secrets_set",
            "revision",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_secrets_set(self, connector: Connector) -> list[str]:
        try:
            return connector.secret_names()
        except SecretsUnreadable:
            return []

    def validate_base_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("The base URL must start with http:// or https://.")
        return value

    def validate_token_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("The token URL must start with http:// or https://.")
        return value

    def validate_username(self, value: str) -> str:
        if ":" in value:
            raise serializers.ValidationError("A basic-auth username cannot contain ':'.")
        return refuse_control_characters(value)

    def validate_client_id(self, value: str) -> str:
        return refuse_control_characters(value)

    def validate_api_key_name(self, value: str) -> str:
        if value and not HEADER_NAME.match(value):
            raise serializers.ValidationError(
                "Must be a header or query parameter name (letters, digits, -_.)."
            )
        return value

    def validate_default_headers(self, value: dict[str, str]) -> dict[str, str]:
        problem = header_map_problem(value, "Default headers")
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_allowed_hosts(self, value: list[str]) -> list[str]:
        hosts = []
        for entry in value:
            host = entry.strip().lower()
            if not HOST_ENTRY.match(host) or host.startswith("*"):
                raise serializers.ValidationError(f"{entry!r} is not a host name ('host' or 'host:port').")
            hosts.append(host)
        return sorted(set(hosts))

    def split_secrets(self) -> tuple[dict[str, Any], dict[str, str | None]]:
        """(plain fields, secrets) of the validated data."""
        data = dict(self.validated_data)
        secrets = {name: data.pop(name, None) for name in Connector.SECRET_FIELDS}
        return data, secrets


# --- Endpoints --------------------------------------------------------------------------------------------

# Pagination options per style: (required, optional). Types of each option below.
PAGINATION_OPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Endpoint.Pagination.NONE: ((), ()),
    Endpoint.Pagination.PAGE_NUMBER: (("page_param",), ("size_param", "page_size", "start", "items_path")),
    Endpoint.Pagination.OFFSET_LIMIT: (("offset_param", "limit_param", "limit"), ("start", "items_path")),
    Endpoint.Pagination.NEXT_URL: (("next_path",), ("items_path",)),
    Endpoint.Pagination.LINK_HEADER: ((), ("items_path",)),
    Endpoint.Pagination.CURSOR: (("cursor_param", "cursor_path"), ("items_path",)),
}
PAGINATION_TYPES = {
    "page_param": "name",
    "size_param": "name",
    "offset_param": "name",
    "limit_param": "name",
    "cursor_param": "name",
    "page_size": "positive",
    "limit": "positive",
    "start": "count",
    "next_path": "jmespath",
    "cursor_path": "jmespath",
    "items_path": "jmespath",
    "max_pages": "pages",
}


def pagination_errors(value: Any) -> list[str]:
    if value in ({}, None):
        return []
    if not isinstance(value, dict):
        return ["Pagination must be an object with a 'style'."]
    style = value.get("style", Endpoint.Pagination.NONE)
    if style not in PAGINATION_OPTIONS:
        return [f"Unknown pagination style {style!r} ({', '.join(PAGINATION_OPTIONS)})."]
    required, optional = PAGINATION_OPTIONS[style]
    allowed = {"style", "max_pages", *required, *optional}
    problems = [f"Pagination style '{style}' needs '{name}'." for name in required if name not in value]
    for name, option in value.items():
        if name not in allowed:
            problems.append(f"Pagination style '{style}' has no option '{name}'.")
            continue
        kind = PAGINATION_TYPES.get(name)
        if kind == "name" and not (isinstance(option, str) and option.strip()):
            problems.append(f"Pagination option '{name}' must be a non-empty parameter name.")
        elif kind in ("positive", "count", "pages") and (
            isinstance(option, bool) or not isinstance(option, int)
        ):
            problems.append(f"Pagination option '{name}' must be an integer.")
        elif kind == "positive" and option < 1:
            problems.append(f"Pagination option '{name}' must be at least 1.")
        elif kind == "count" and option < 0:
            problems.append(f"Pagination option '{name}' must not be negative.")
        elif kind == "pages" and not 1 <= option <= 1000:
            problems.append(f"Pagination option '{name}' must be between 1 and 1000.")
        elif kind == "jmespath":
            problem = jmespath_problem(option) if isinstance(option, str) and option else "it is empty"
            if problem:
                problems.append(f"Pagination option '{name}' is not a valid JMESPath expression: {problem}.")
    return problems


class EndpointSerializer(serializers.ModelSerializer):
    query = StringMapField(what="Query", required=False)
    headers = StringMapField(what="Headers", required=False)
    pagination = serializers.JSONField(
        required=False,
        help_text="{'style': none | page_number | offset_limit | next_url | link_header | cursor, ...}",
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "connector",
            "name",
            "description",
            "method",
            "path",
            "query",
            "headers",
            "body_template",
            "body_format",
            "pagination",
            "pre_request_script",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_headers(self, value: dict[str, str]) -> dict[str, str]:
        problem = header_map_problem(value, "Headers")
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_pre_request_script(self, script: Script | None) -> Script | None:
        if script is not None and resolve_script_version(script_id=script.pk, version=None) is None:
            raise serializers.ValidationError(
                f"Script '{script.name}' has no deployed version; deploy it first."
            )
        return script

    def validate_pagination(self, value: Any) -> Any:
        problems = pagination_errors(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value or {}


# --- Flows ------------------------------------------------------------------------------------------------


class FlowSettingsSerializer(serializers.ModelSerializer):
    """The settings of a flow (what an import carries and the API writes)."""

    variables = StringMapField(what="Variables", required=False)
    max_run_retries = serializers.IntegerField(min_value=0, max_value=100, required=False)
    # A 32-bit column (PositiveIntegerField): the boundary's 64-bit check is not enough here.
    max_concurrent_runs = serializers.IntegerField(
        min_value=1, max_value=INT32_MAX, allow_null=True, required=False
    )

    class Meta:
        model = Flow
        fields = [
            "name",
            "description",
            "enabled",
            "priority",
            "variables",
            "max_run_retries",
            "max_concurrent_runs",
        ]


class LastRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class FlowSerializer(FlowSettingsSerializer):
    webhook_url = serializers.SerializerMethodField()
    deployed_version = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()

    class Meta(FlowSettingsSerializer.Meta):
        fields = [
            "id",
            *FlowSettingsSerializer.Meta.fields,
            "webhook_url",
            "deployed_version",
            "last_run",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_webhook_url(self, flow: Flow) -> str | None:
        """The URL only for roles that may run the flow: whoever knows it can start runs."""
        request = self.context.get("request")
        if request is not None and not can_write(request.user):
            return None
        return request.build_absolute_uri(flow.webhook_path) if request is not None else flow.webhook_path

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_deployed_version(self, flow: Flow) -> int | None:
        if hasattr(flow, "deployed_number"):
            return flow.deployed_number
        version = (
            flow.versions.filter(status=FlowVersion.Status.DEPLOYED).values_list("number", flat=True).first()
        )
        return version

    @staticmethod
    def _last_run(flow: Flow) -> dict[str, Any] | None:
        # The API's queryset annotates the last run; a flow fresh from a service does not have it.
        if hasattr(flow, "last_run_id"):
            if flow.last_run_id is None:
                return None
            return {
                "id": flow.last_run_id,
                "status": getattr(flow, "last_run_status", None),
                "started_at": getattr(flow, "last_run_started_at", None),
                "finished_at": getattr(flow, "last_run_finished_at", None),
            }
        run = flow.runs.order_by("-id").values("id", "status", "started_at", "finished_at").first()
        return dict(run) if run is not None else None

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, flow: Flow) -> dict[str, Any] | None:
        run = self._last_run(flow)
        return LastRunSerializer(run).data if run is not None else None


# --- Graphs and versions ----------------------------------------------------------------------------------


class GraphErrorSerializer(serializers.Serializer):
    shape = serializers.CharField(allow_null=True)
    setting = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class GraphSerializer(serializers.Serializer):
    """The flow graph JSON of DESIGN section 6; checked by designer.graph, not here."""

    shapes = serializers.ListField(child=serializers.DictField())
    connections = serializers.ListField(child=serializers.DictField())
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=INT32_MAX,
        help_text="The draft revision a change is based on (from the GET); a stale one gets 409.",
    )


class WithGraphErrorsMixin:
    """Adds an `errors` list of graph errors to an output serializer.

    Added in get_fields because a declared `errors` attribute would hide Serializer.errors.
    """

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()  # type: ignore[misc]
        fields["errors"] = GraphErrorSerializer(many=True, read_only=True)
        return fields


class DraftSerializer(WithGraphErrorsMixin, GraphSerializer):
    updated_at = serializers.DateTimeField()
    deployed_version = serializers.IntegerField(
        allow_null=True, help_text="The number of the deployed version (what Run now runs); null if none."
    )
    differs_from_deployed = serializers.BooleanField(
        help_text="The draft would run differently from the deployed version (positions aside)."
    )


class CopyRequestSerializer(serializers.Serializer):
    """Body of the `duplicate` actions: the copy's name (default: the original's name plus "(copy)")."""

    name = serializers.CharField(required=False, max_length=200)


class GraphValidationResultSerializer(WithGraphErrorsMixin, serializers.Serializer):
    valid = serializers.BooleanField()


class FlowDeployRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class FlowDeployResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()


class FlowVersionSerializer(serializers.ModelSerializer):
    # Null for a draft, and for a version deployed without a signed-in user (an API key, the demo).
    deployed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of who deployed the version; null for the draft or an unattended deploy.",
    )

    class Meta:
        model = FlowVersion
        fields = [
            "id",
            "number",
            "status",
            "comment",
            "created_at",
            "updated_at",
            "deployed_at",
            "deployed_by",
        ]


class FlowVersionDetailSerializer(FlowVersionSerializer):
    class Meta(FlowVersionSerializer.Meta):
        fields = [*FlowVersionSerializer.Meta.fields, "graph"]


class FlowExportSerializer(serializers.Serializer):
    format = serializers.CharField()
    format_version = serializers.IntegerField()
    flow = serializers.DictField()
    graph = GraphSerializer()
    alerts = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="The flow's alert settings, channels and error flow by name (absent when it has none).",
    )


class FlowImportRequestSerializer(FlowExportSerializer):
    name = serializers.CharField(
        required=False, max_length=200, help_text="Import under this name instead of the exported one."
    )


class FlowImportResultSerializer(WithGraphErrorsMixin, FlowSerializer):
    pass


class ShapeTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    # Declared fields are popped from the class by DRF, so this does not hide Field.label at runtime.
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()
    connection_attribute = serializers.CharField(allow_null=True)
    settings = serializers.DictField(help_text="JSON Schema of the shape's settings.")


class ConnectionTestRequestSerializer(serializers.Serializer):
    """Body of `POST /api/connectors/{id}/test/`: an endpoint of the connector (or none: GET the base URL)."""

    endpoint = serializers.IntegerField(required=False, allow_null=True)
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class ConnectionTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="True for a 2xx answer.")
    status = serializers.IntegerField(allow_null=True, help_text="HTTP status; null when none arrived.")
    duration_ms = serializers.FloatField()
    error = serializers.CharField(allow_null=True)
    body_excerpt = serializers.CharField(allow_blank=True, help_text="The first 2000 characters.")


class WebhookSerializer(serializers.Serializer):
    """A flow's webhook: its URL and the optional HMAC signature check of its calls (secret write-only)."""

    url = serializers.CharField(read_only=True)
    signature_header = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Header with the signature; '' = no check.",
    )
    signature_algorithm = serializers.ChoiceField(choices=["sha256", "sha1"], required=False)
    signature_encoding = serializers.ChoiceField(choices=["hex", "base64"], required=False)
    signature_prefix = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="Text before the digest, e.g. 'sha256='."
    )
    secret = SecretField(help_text="The shared secret the caller signs with; '' removes it.")
    secret_set = serializers.BooleanField(read_only=True)

    def validate_signature_header(self, value: str) -> str:
        if value and not HEADER_NAME.match(value):
            raise serializers.ValidationError("Must be a header name (letters, digits, -_.).")
        return value

    def validate_signature_prefix(self, value: str) -> str:
        return refuse_control_characters(value)

    @staticmethod
    def describe(flow: Flow, url: str) -> dict[str, Any]:
        return {
            "url": url,
            "signature_header": flow.webhook_signature_header,
            "signature_algorithm": flow.webhook_signature_algorithm,
            "signature_encoding": flow.webhook_signature_encoding,
            "signature_prefix": flow.webhook_signature_prefix,
            "secret_set": bool(flow.webhook_secret_encrypted),
        }
