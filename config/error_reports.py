"""What an error report (Django's debug page, the admin emails) may show: no connector secret, no password.

`PatchbayExceptionReporterFilter` is `DEFAULT_EXCEPTION_REPORTER_FILTER`. On top of Django's filter (settings
and request meta named like API / TOKEN / KEY / SECRET / PASS, `sensitive_variables`) it hides the user
info of every URL in settings and frame variables (`DATABASE_URL`, `REDIS_URL`, `CELERY_BROKER_URL`, the
channel layer hosts) and replaces every form of every stored connector secret in the frame variables, so a
debug page shown by mistake still carries none of them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

from connectors.redaction import Redactor

logger = logging.getLogger(__name__)

# scheme://user:password@host -> scheme://user:********@host (also without a user).
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)(?P<password>[^\s@/'\"]+)@", re.I)
MASK = SafeExceptionReporterFilter.cleansed_substitute
# Reading more connectors than this on an error path is not worth it; their secrets stay masked by name.
MAX_CONNECTORS = 1000


def mask_url_passwords(text: str) -> str:
    return URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


class _Shown:
    """A frame variable already turned into safe text (the debug page prints its repr)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def known_secrets() -> Redactor:
    """Every stored connector secret and webhook signing secret (an error path: the cost does not matter)."""
    redactor = Redactor()
    try:
        from connectors.auth import connector_redactor
        from designer.models import Connector, Flow

        for connector in Connector.objects.all()[:MAX_CONNECTORS]:
            try:
                redactor.extend(connector_redactor(connector))
            except Exception:  # noqa: S112 - an unreadable row must not stop the report
                continue
        for flow in Flow.objects.exclude(webhook_secret_encrypted="")[:MAX_CONNECTORS]:
            try:
                redactor.add(flow.get_webhook_secret())
            except Exception:  # noqa: S112
                continue
    except Exception:
        # The database itself may be what failed; the report goes on without this extra layer.
        logger.debug("Could not read the stored secrets for the error report", exc_info=True)
    return redactor


class PatchbayExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|BROKER|FERNET|DSN",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        # `type(...) is str`: lazy objects pass isinstance checks but are not strings to `re`.
        if type(cleansed) is str:
            return mask_url_passwords(cleansed)
        return cleansed

    def get_safe_settings(self) -> dict[str, Any]:
        return {key: self._mask_nested(value) for key, value in super().get_safe_settings().items()}

    def _mask_nested(self, value: Any) -> Any:
        if type(value) is str:
            return mask_url_passwords(value)
        if type(value) is dict:
            return {k: self._mask_nested(v) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self._mask_nested(v) for v in value)
        return value

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not hasattr(self, "_secrets"):
            self._secrets = known_secrets()
        shown = []
        for name, value in variables:
            try:
                text = value if isinstance(value, str) and value == MASK else repr(value)
            except Exception:
                text = f"<{type(value).__name__} that cannot be shown>"
            if text == MASK:
                shown.append((name, value))
                continue
            safe = mask_url_passwords(self._secrets.text(text))
            shown.append((name, value if safe == text else _Shown(safe)))
        return shown
