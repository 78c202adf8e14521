"""Redaction: every known secret, in every form it can take, replaced by `***` in what is stored or shown.

A secret reaches text in more shapes than its plain value: Python's repr of a header value (an error text such
as `Illegal header value b'Bearer abc\\n'`), JSON escaping, percent-encoding (a query string, a form body) and
base64 (HTTP basic credentials). `Redactor` knows all of them for the secrets it was given. It is applied to
copies that are stored or shown (attempts, errors, log lines, payload rows, events, answers); the data a flow
passes from shape to shape is never changed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

REDACTED = "***"
# Shorter values would blank out ordinary text ("a", "ok"); a real connector secret is never that short.
MIN_SECRET_LENGTH = 3
# Header (and query parameter) names that carry credentials by convention. Values of headers matching this are
# never stored, and such headers are never sent to another origin.
CREDENTIAL_NAME = re.compile(
    r"(^|[-_])(auth|authorization|token|api[-_]?key|key|secret|passw(or)?d|pwd|cookie|session|signature|"
    r"credentials?|sig|hmac)($|[-_])|authorization|token|apikey|secret|password|cookie",
    re.IGNORECASE,
)
ALWAYS_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def is_credential_name(name: str) -> bool:
    """True for header or parameter names that carry credentials (Authorization, X-Api-Key, Cookie, ...)."""
    lowered = name.strip().lower()
    return lowered in ALWAYS_CREDENTIAL_HEADERS or bool(CREDENTIAL_NAME.search(lowered))


def secret_forms(secret: str) -> set[str]:
    """The ways `secret` can appear in text: exact, trimmed, escaped (repr, JSON, bytes repr), percent-encoded
    (path, query and form styles) and base64."""
    forms = {secret, secret.strip()}
    forms.add(repr(secret)[1:-1])
    forms.add(json.dumps(secret)[1:-1])
    forms.add(repr(secret.encode("utf-8"))[2:-1])
    forms.add(quote(secret, safe=""))
    forms.add(quote(secret))
    forms.add(quote_plus(secret))
    forms.add(base64.b64encode(secret.encode("utf-8")).decode("ascii"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every form of the secrets it knows. Cheap to build; `add` more secrets at any time."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        changed = False
        for secret in secrets:
            if secret and len(secret.strip()) >= MIN_SECRET_LENGTH and secret not in self._secrets:
                self._secrets.add(secret)
                changed = True
        if changed:
            forms: set[str] = set()
            for secret in self._secrets:
                forms |= secret_forms(secret)
            # Longest first, so a form that contains another is replaced whole.
            self._forms = sorted(forms, key=len, reverse=True)

    def extend(self, other: Redactor) -> None:
        self.add(*other._secrets)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def optional_text(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted (dict keys included)."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def headers(
        self, headers: Mapping[str, str] | httpx.Headers, names: Iterable[str] = ()
    ) -> dict[str, str]:
        """Headers as a dict; credential headers (by name) become `***`, others are redacted as text."""
        hidden = {name.lower() for name in names}
        out: dict[str, str] = {}
        for key, value in headers.items():
            if key.lower() in hidden or is_credential_name(key):
                out[key] = REDACTED
            else:
                out[key] = self.text(value)
        return out

    def url(self, url: httpx.URL | str, names: Iterable[str] = ()) -> str:
        """The URL with credential query parameters (by name) and any secret replaced, userinfo dropped."""
        url = httpx.URL(str(url))
        hidden = set(names)
        if url.userinfo:
            url = url.copy_with(username=None, password=None)
        if url.query:
            params = [
                (key, REDACTED if key in hidden or is_credential_name(key) else value)
                for key, value in url.params.multi_items()
            ]
            url = url.copy_with(params=params)
        return self.text(str(url))
