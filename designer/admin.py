"""Django admin for the designer: flows with their versions, connectors (secrets masked) and endpoints."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from config.api_errors import ApiError
from designer import services
from designer.crypto import SecretsUnreadable
from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.serializers import CONTROL_CHARACTERS


class FlowVersionInlineForm(forms.ModelForm):
    """Only the draft's comment and graph can be edited; deployed and inactive versions are immutable."""

    class Meta:
        model = FlowVersion
        fields = ["comment", "graph"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.status != FlowVersion.Status.DRAFT:
            for field in self.fields.values():
                field.disabled = True


class FlowVersionInline(admin.StackedInline):
    model = FlowVersion
    form = FlowVersionInlineForm
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["number", "status", "deployed_at", "deployed_by", "comment", "graph"]
    readonly_fields = ["number", "status", "deployed_at", "deployed_by"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Versions come from deploys, never by hand.
        return False


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "priority", "deployed_version", "max_run_retries", "updated_at"]
    list_filter = ["enabled", "priority"]
    search_fields = ["name", "description"]
    readonly_fields = ["webhook_key", "created_at", "updated_at", "created_by"]
    # The signature check is set through the API (`/api/flows/{id}/webhook/`), whose secret is write-only.
    exclude = [
        "webhook_signature_header",
        "webhook_signature_algorithm",
        "webhook_signature_encoding",
        "webhook_signature_prefix",
    ]
    inlines = [FlowVersionInline]

    @admin.display(description="deployed version")
    def deployed_version(self, flow: Flow) -> str:
        number = (
            flow.versions.filter(status=FlowVersion.Status.DEPLOYED).values_list("number", flat=True).first()
        )
        return f"v{number}" if number is not None else "-"

    def save_model(self, request: HttpRequest, obj: Flow, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        with transaction.atomic():
            obj.created_by_id = request.user.pk
            super().save_model(request, obj, form, change)
            services.start_draft(flow=obj)


@admin.register(FlowVersion)
class FlowVersionAdmin(admin.ModelAdmin):
    list_display = ["flow", "number", "status", "comment", "created_at", "deployed_at", "deployed_by"]
    list_filter = ["status"]
    search_fields = ["flow__name", "comment"]
    list_select_related = ["flow", "deployed_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: FlowVersion | None = None) -> list[str]:
        fixed = ["flow", "number", "status", "deployed_at", "deployed_by", "created_at", "updated_at"]
        if obj is not None and obj.status != FlowVersion.Status.DRAFT:
            return [*fixed, "comment", "graph"]
        return fixed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a draft would leave its flow without one; deployed and inactive versions are history.
        return False


def no_control_characters(value: str) -> None:
    if CONTROL_CHARACTERS.search(value or ""):
        raise ValidationError("Must not contain control characters (a line break, a tab ...).")


class ConnectorAdminForm(forms.ModelForm):
    """Secrets are never rendered: an empty input keeps the stored value, a tick under 'clear' removes it."""

    base_url = forms.URLField(max_length=2000, assume_scheme="https")
    token_url = forms.URLField(max_length=2000, required=False, assume_scheme="https")
    password = forms.CharField(
        required=False, validators=[no_control_characters], widget=forms.PasswordInput(render_value=False)
    )
    token = forms.CharField(
        required=False, validators=[no_control_characters], widget=forms.PasswordInput(render_value=False)
    )
    api_key = forms.CharField(
        required=False, validators=[no_control_characters], widget=forms.PasswordInput(render_value=False)
    )
    client_secret = forms.CharField(
        required=False, validators=[no_control_characters], widget=forms.PasswordInput(render_value=False)
    )
    clear_secrets = forms.MultipleChoiceField(
        required=False,
        choices=[(name, name) for name in Connector.SECRET_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Remove these stored secrets.",
    )

    class Meta:
        model = Connector
        fields = [
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
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        secrets: dict[str, str | None] = {name: data.get(name) or None for name in Connector.SECRET_FIELDS}
        for name in data.get("clear_secrets") or []:
            secrets[name] = ""
        # Check the auth requirements on a copy; the real write happens in save_model.
        fields = {name: data[name] for name in self.Meta.fields if name in data}
        stored = self.instance if self.instance.pk else Connector()
        probe = Connector(
            pk=stored.pk,
            base_url=stored.base_url,
            token_url=stored.token_url,
            allowed_hosts=list(stored.allowed_hosts or []),
            secrets_encrypted=stored.secrets_encrypted,
        )
        try:
            services.apply_connector_changes(probe, fields, secrets)
        except ApiError as exc:
            for item in exc.errors:
                field = item["field"] if item["field"] in self.fields else None
                self.add_error(field, item["message"])
        self.secrets = secrets
        return data


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorAdminForm
    list_display = ["name", "base_url", "auth_type", "secrets_set", "endpoint_count", "updated_at"]
    list_filter = ["auth_type"]
    search_fields = ["name", "description", "base_url"]
    readonly_fields = ["secrets_set", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "description",
                    "base_url",
                    "timeout",
                    "default_headers",
                    "allowed_hosts",
                    "cross_origin_redirects",
                ]
            },
        ),
        (
            "Authentication",
            {
                "fields": [
                    "auth_type",
                    "username",
                    "api_key_name",
                    "token_url",
                    "client_id",
                    "scope",
                    "secrets_set",
                    "password",
                    "token",
                    "api_key",
                    "client_secret",
                    "clear_secrets",
                ],
                "description": "Secrets are write-only: leave a field empty to keep the stored value.",
            },
        ),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connector]:
        return super().get_queryset(request).annotate(number_of_endpoints=Count("endpoints"))

    @admin.display(description="secrets set")
    def secrets_set(self, connector: Connector) -> str:
        try:
            names = connector.secret_names()
        except SecretsUnreadable:
            return "unreadable with the current key"
        return ", ".join(names) or "none"

    @admin.display(description="endpoints", ordering="number_of_endpoints")
    def endpoint_count(self, connector: Connector) -> int:
        return int(getattr(connector, "number_of_endpoints", connector.endpoints.count()))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A connector a deployed flow calls stays (the API answers 409 for the same reason).
        if obj is not None and services.deployed_usages(kind="connector", pk=obj.pk):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk deletion would skip the check above.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: Connector, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ConnectorAdminForm.Meta.fields}
        if change:
            services.update_connector(connector=obj, secrets=form.secrets, **fields)
        else:
            created = services.create_connector(secrets=form.secrets, **fields)
            obj.pk = created.pk
            obj._state.adding = False
            obj._state.db = created._state.db


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0
    fields = ["name", "method", "path", "body_format"]
    show_change_link = True


ConnectorAdmin.inlines = [EndpointInline]


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "connector", "method", "path", "body_format", "pagination_style", "updated_at"]
    list_filter = ["method", "body_format", "connector"]
    search_fields = ["name", "path", "description", "connector__name"]
    list_select_related = ["connector"]
    autocomplete_fields = ["connector"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and services.deployed_usages(kind="endpoint", pk=obj.pk):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
