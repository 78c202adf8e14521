"""Writes of the designer domain: flows and their versions (`flows`), export and import (`export`), connectors
and endpoints (`connectors`).

Every function is keyword-only and raises `config.api_errors.ApiError` (a 4xx with error items) when the
request cannot be done; callers never see a half-done write because multi-row changes run in one transaction.
Callers import from `designer.services`; the modules are how the code is organised, not an interface.
"""

from designer.services.connectors import (
    AUTH_REQUIREMENTS,
    apply_connector_changes,
    create_connector,
    create_endpoint,
    delete_connector,
    delete_endpoint,
    deployed_usages,
    update_connector,
    update_endpoint,
)
from designer.services.export import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, export_flow, import_flow
from designer.services.flows import (
    FLOW_SETTINGS,
    clean_graph,
    create_flow,
    delete_flow,
    deploy_flow,
    get_draft,
    initial_graph,
    restore_version,
    save_draft,
    start_draft,
    update_flow,
)
from designer.services.webhooks import configure_webhook, rotate_webhook_key

__all__ = [
    "AUTH_REQUIREMENTS",
    "EXPORT_FORMAT",
    "EXPORT_FORMAT_VERSION",
    "FLOW_SETTINGS",
    "apply_connector_changes",
    "clean_graph",
    "configure_webhook",
    "create_connector",
    "create_endpoint",
    "create_flow",
    "delete_connector",
    "delete_endpoint",
    "delete_flow",
    "deploy_flow",
    "deployed_usages",
    "export_flow",
    "get_draft",
    "import_flow",
    "initial_graph",
    "restore_version",
    "rotate_webhook_key",
    "save_draft",
    "start_draft",
    "update_connector",
    "update_endpoint",
    "update_flow",
]
