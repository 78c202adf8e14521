"""Writes of connectors and endpoints: secrets merged and checked against the authentication type, deletes
refused while a deployed flow version uses them."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.api_errors import ApiError
from config.revisions import check_revision
from connectors.origins import normalise_host, origin_of
from designer.models import Connector, Endpoint, FlowVersion

# Which settings each authentication type needs: (field, is_secret, message).
AUTH_REQUIREMENTS: dict[str, tuple[tuple[str, bool, str], ...]] = {
    Connector.AuthType.NONE: (),
    Connector.AuthType.BASIC: (
        ("username", False, "Basic authentication needs a username."),
        ("password", True, "Basic authentication needs a password."),
    ),
    Connector.AuthType.BEARER: (("token", True, "Bearer authentication needs a token."),),
    Connector.AuthType.API_KEY_HEADER: (
        ("api_key_name", False, "API key authentication needs the header name in 'api_key_name'."),
        ("api_key", True, "API key authentication needs an api_key."),
    ),
    Connector.AuthType.API_KEY_QUERY: (
        ("api_key_name", False, "API key authentication needs the query parameter name in 'api_key_name'."),
        ("api_key", True, "API key authentication needs an api_key."),
    ),
    Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS: (
        ("token_url", False, "OAuth2 client credentials need a token_url."),
        ("client_id", False, "OAuth2 client credentials need a client_id."),
        ("client_secret", True, "OAuth2 client credentials need a client_secret."),
    ),
}


def apply_connector_changes(
    connector: Connector, fields: dict[str, Any], secrets: dict[str, str | None]
) -> None:
    """Sets fields and merges secrets on `connector` without saving: a secret whose value is None keeps its
    stored value, "" clears it. Raises ApiError (400) when the auth type lacks what it needs."""
    moved = connector.pk is not None and _credentials_move(connector, fields)
    for name, value in fields.items():
        setattr(connector, name, value)
    current = connector.get_secrets() if connector.secrets_encrypted else {}
    if moved:
        # The secrets were given for the old origin: an editor who points the connector elsewhere (and then
        # tests the connection) must not have them delivered there. Secrets given in this request stay.
        current = {}
    for name, value in secrets.items():
        if value is None:
            continue
        if value == "":
            current.pop(name, None)
        else:
            current[name] = value
    problems = [
        {"field": field, "message": message}
        for field, is_secret, message in AUTH_REQUIREMENTS.get(connector.auth_type, ())
        if not (current.get(field) if is_secret else getattr(connector, field))
    ]
    if problems:
        if moved:
            raise ApiError(
                "The connector now points to another origin, so its stored secrets were not kept:"
                " give them again in the same request.",
                problems,
            )
        raise ApiError("The connector's authentication settings are incomplete.", problems)
    connector.set_secrets(current)


def _credentials_move(connector: Connector, fields: dict[str, Any]) -> bool:
    """True when `fields` send the connector's credentials to an origin they were not given for: the base
    URL or token URL on another origin, or a host added to the allowed hosts."""
    for name in ("base_url", "token_url"):
        if name not in fields:
            continue
        old, new = getattr(connector, name) or "", fields[name] or ""
        if new and (not old or origin_of(old) != origin_of(new)):
            return True
    if "allowed_hosts" in fields:
        old_hosts = {normalise_host(h) for h in connector.allowed_hosts or []}
        if {normalise_host(h) for h in fields["allowed_hosts"] or []} - old_hosts:
            return True
    return False


def create_connector(*, secrets: dict[str, str | None] | None = None, **fields: Any) -> Connector:
    """Creates a connector; `secrets` maps secret names (Connector.SECRET_FIELDS) to values, encrypted."""
    connector = Connector()
    apply_connector_changes(connector, fields, secrets or {})
    connector.save()
    return connector


def update_connector(
    *,
    connector: Connector,
    secrets: dict[str, str | None] | None = None,
    based_on: int | None = None,
    **fields: Any,
) -> Connector:
    """Changes a connector. A secret left out keeps its value; an empty string clears it. A change based
    on an older revision than the stored one is refused (409, config/revisions.py); the row is locked."""
    with transaction.atomic():
        current = (
            Connector.objects.select_for_update().values_list("revision", flat=True).get(pk=connector.pk)
        )
        check_revision(based_on=based_on, current=current, what=f"Connector '{connector.name}'")
        apply_connector_changes(connector, fields, secrets or {})
        connector.revision = current + 1
        connector.save()
    return connector


def create_endpoint(**fields: Any) -> Endpoint:
    """Creates an endpoint from validated fields (designer.serializers.EndpointSerializer)."""
    return Endpoint.objects.create(**fields)


def update_endpoint(*, endpoint: Endpoint, **fields: Any) -> Endpoint:
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=[*fields, "updated_at"])
    return endpoint


def deployed_usages(*, kind: str, pk: int) -> list[str]:
    """Names of flows whose deployed version references the connector / endpoint with id `pk`."""
    names = []
    deployed = FlowVersion.objects.filter(status=FlowVersion.Status.DEPLOYED).select_related("flow")
    for version in deployed:
        for shape in version.graph.get("shapes", []):
            settings = shape.get("settings") if isinstance(shape, dict) else None
            if isinstance(settings, dict) and shape.get("type") == "connector" and settings.get(kind) == pk:
                names.append(version.flow.name)
                break
    return names


def delete_connector(*, connector: Connector) -> None:
    """Deletes a connector and its endpoints; refused (409) while a deployed flow version calls it."""
    users = deployed_usages(kind="connector", pk=connector.pk)
    if users:
        listed = ", ".join(f"'{n}'" for n in users)
        raise ApiError(
            f"Connector '{connector.name}' is used by the deployed flows {listed}.", status_code=409
        )
    connector.delete()


def delete_endpoint(*, endpoint: Endpoint) -> None:
    """Deletes an endpoint; refused (409) while a deployed flow version calls it."""
    users = deployed_usages(kind="endpoint", pk=endpoint.pk)
    if users:
        listed = ", ".join(f"'{n}'" for n in users)
        raise ApiError(f"Endpoint '{endpoint.name}' is used by the deployed flows {listed}.", status_code=409)
    endpoint.delete()
