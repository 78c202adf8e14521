"""Designer domain: process flows and their versions, connectors and their endpoints.

Single-row invariants live here; multi-row rules (deploying, copying drafts) live in designer.services.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from designer.crypto import decrypt_secrets, encrypt_secrets


def new_webhook_key() -> str:
    return secrets.token_urlsafe(24)


def empty_graph() -> dict[str, Any]:
    return {"shapes": [], "connections": []}


class Flow(models.Model):
    """A named process flow: settings here, the graph in its versions."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    # 1 = highest, 5 = lowest; 3 is regular.
    priority = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    # Variable name -> default value (strings); a run may override them.
    variables = models.JSONField(default=dict, blank=True)
    # Code 2 ("fail the run and queue it again") only retries when this is above 0; new flows allow 3.
    max_run_retries = models.PositiveIntegerField(default=3)
    # Optional cap on runs of this flow executing at once (None = no cap).
    max_concurrent_runs = models.PositiveIntegerField(null=True, blank=True)
    webhook_key = models.CharField(max_length=64, unique=True, default=new_webhook_key, editable=False)
    # Optional HMAC check of webhook calls (runs.triggers.signatures): the header carrying the signature
    # (empty: no check), the digest, its encoding, a prefix before it ("sha256=") and the shared secret,
    # encrypted like connector secrets and never returned by the API.
    webhook_signature_header = models.CharField(max_length=100, blank=True)
    webhook_signature_algorithm = models.CharField(
        max_length=10, choices=[("sha256", "SHA-256"), ("sha1", "SHA-1")], default="sha256"
    )
    webhook_signature_encoding = models.CharField(
        max_length=10, choices=[("hex", "Hex"), ("base64", "Base64")], default="hex"
    )
    webhook_signature_prefix = models.CharField(max_length=50, blank=True)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="flow_priority_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.webhook_key}/"

    def get_webhook_secret(self) -> str:
        return decrypt_secrets(self.webhook_secret_encrypted).get("secret", "")

    def set_webhook_secret(self, value: str) -> None:
        """Replace the webhook signing secret ("" removes it); the caller saves."""
        self.webhook_secret_encrypted = encrypt_secrets({"secret": value} if value else {})


class FlowVersion(models.Model):
    """A snapshot of a flow's graph.

    Per flow: exactly one draft (number NULL, editable), at most one deployed, any number of inactive.
    The partial unique constraints below make a second draft or a second deployed version impossible even
    when two requests race; services keep "exactly one draft" by creating the next draft in the same
    transaction as a deploy. Deployed and inactive versions are immutable (`save` refuses graph changes).
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        DEPLOYED = "deployed"
        INACTIVE = "inactive"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    graph = models.JSONField(default=empty_graph)
    # Optimistic concurrency of the draft: every draft write carries the revision it was based on and
    # increments it; a stale one is refused with 409 (designer.services.save_draft).
    revision = models.PositiveIntegerField(default=1)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow"], condition=Q(status="draft"), name="one_draft_per_flow"),
            models.UniqueConstraint(
                fields=["flow"], condition=Q(status="deployed"), name="at_most_one_deployed_per_flow"
            ),
            models.UniqueConstraint(fields=["flow", "number"], name="unique_version_number_per_flow"),
            models.CheckConstraint(
                condition=(
                    Q(status="draft", number__isnull=True) | (~Q(status="draft") & Q(number__isnull=False))
                ),
                name="only_drafts_have_no_number",
            ),
        ]

    def __str__(self) -> str:
        label = "draft" if self.number is None else f"v{self.number}"
        return f"{self.flow.name} {label} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuses to change the graph or number of a deployed / inactive version, and any status change
        but deployed -> inactive (a draft becomes deployed only through designer.services.deploy_flow)."""
        if self.pk is not None:
            stored = FlowVersion.objects.filter(pk=self.pk).values("graph", "status", "number").first()
            if stored is not None and stored["status"] != self.Status.DRAFT:
                if stored["graph"] != self.graph or stored["number"] != self.number:
                    raise ValidationError("Deployed and inactive flow versions are immutable.")
                moves = {(self.Status.DEPLOYED, self.Status.INACTIVE)}
                if stored["status"] != self.status and (stored["status"], self.status) not in moves:
                    raise ValidationError(
                        f"A {stored['status']} flow version cannot become {self.status}; "
                        "only a deployed version becomes inactive."
                    )
        super().save(*args, **kwargs)


class Connector(models.Model):
    """A configured instance of an external system. Secrets are Fernet-encrypted in `secrets_encrypted`."""

    class AuthType(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "Basic"
        BEARER = "bearer", "Bearer token"
        API_KEY_HEADER = "api_key_header", "API key in a header"
        API_KEY_QUERY = "api_key_query", "API key in the query"
        OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth2 client credentials"

    class CrossOriginRedirects(models.TextChoices):
        DROP_CREDENTIALS = "drop_credentials", "Follow without credentials"
        REFUSE = "refuse", "Refuse"

    # Which secret each auth type needs (the API refuses a connector that lacks it).
    SECRET_FIELDS = ("password", "token", "api_key", "client_secret")

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # Optimistic concurrency: each write carries the revision it was based on (designer.services).
    revision = models.PositiveIntegerField(default=1)
    base_url = models.URLField(max_length=2000)
    auth_type = models.CharField(max_length=32, choices=AuthType.choices, default=AuthType.NONE)
    username = models.CharField(max_length=200, blank=True, help_text="Basic auth user name.")
    api_key_name = models.CharField(
        max_length=200, blank=True, help_text="Header or query parameter that carries the API key."
    )
    token_url = models.URLField(max_length=2000, blank=True, help_text="OAuth2 token endpoint.")
    client_id = models.CharField(max_length=500, blank=True)
    scope = models.CharField(max_length=1000, blank=True)
    default_headers = models.JSONField(default=dict, blank=True)
    timeout = models.FloatField(default=30.0, validators=[MinValueValidator(0.1), MaxValueValidator(3600)])
    # Credentials go only to the base URL's origin and to these hosts ("host" or "host:port"): redirects and
    # next-page URLs elsewhere get none (connectors.origins.TrustedOrigins).
    allowed_hosts = models.JSONField(default=list, blank=True)
    cross_origin_redirects = models.CharField(
        max_length=20, choices=CrossOriginRedirects.choices, default=CrossOriginRedirects.DROP_CREDENTIALS
    )
    secrets_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_secrets(self) -> dict[str, str]:
        return decrypt_secrets(self.secrets_encrypted)

    def set_secrets(self, values: dict[str, str]) -> None:
        """Replace the stored secrets (caller saves). Unknown names are refused."""
        unknown = set(values) - set(self.SECRET_FIELDS)
        if unknown:
            raise ValueError(f"Unknown connector secrets: {sorted(unknown)}")
        self.secrets_encrypted = encrypt_secrets(values)

    def secret_names(self) -> list[str]:
        """Names of the secrets that are set (never their values)."""
        return sorted(self.get_secrets())


class Endpoint(models.Model):
    """An operation of a connector. Templates use [[...]] placeholders rendered by the run engine."""

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"
        HEAD = "HEAD"

    class BodyFormat(models.TextChoices):
        JSON = "json", "JSON"
        FORM = "form", "Form"
        XML = "xml", "XML"
        RAW = "raw", "Raw"

    class Pagination(models.TextChoices):
        NONE = "none"
        PAGE_NUMBER = "page_number"
        OFFSET_LIMIT = "offset_limit"
        NEXT_URL = "next_url"
        LINK_HEADER = "link_header"
        CURSOR = "cursor"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.GET)
    path = models.CharField(
        max_length=2000, blank=True, help_text="Path template, e.g. /orders/[[variables.id]]"
    )
    query = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body_template = models.TextField(blank=True)
    body_format = models.CharField(max_length=8, choices=BodyFormat.choices, default=BodyFormat.JSON)
    # {"style": one of Pagination, plus style options: "page_param", "size_param", "page_size", "start",
    #  "offset_param", "limit_param", "limit", "next_path" (JMESPath in the body), "cursor_param",
    #  "cursor_path", "items_path", "max_pages"}
    pagination = models.JSONField(default=dict, blank=True)
    pre_request_script = models.ForeignKey(
        "scripts_app.Script", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector", "name"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "name"], name="unique_endpoint_name_per_connector"),
        ]

    def __str__(self) -> str:
        return f"{self.connector.name}: {self.name}"

    @property
    def pagination_style(self) -> str:
        return str((self.pagination or {}).get("style", self.Pagination.NONE))
