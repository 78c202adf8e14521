"""HMAC signatures of webhook calls, and which caller headers are credentials (never stored as run meta).

A flow that sets `webhook_signature_header` accepts only calls whose header holds the HMAC of the raw request
body under the flow's shared secret: `prefix + encode(hmac(secret, body, algorithm))`, with algorithm sha256
or sha1 and encoding hex (case-insensitive) or base64, as shops and payment providers sign their calls. The
comparison is constant-time. A missing or wrong signature is refused (401) before anything is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from django.http import HttpRequest

from connectors.redaction import is_credential_name
from designer.crypto import SecretsUnreadable
from designer.models import Flow

ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
ENCODINGS = ("hex", "base64")
# Headers of a webhook caller that are never copied into a run's meta (besides any credential-named one).
CALLER_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-auth-token", "api-key", "x-api-key"}
)


@dataclass(frozen=True)
class SignatureCheck:
    header: str
    algorithm: str
    encoding: str
    prefix: str
    secret: str

    @classmethod
    def of(cls, flow: Flow) -> SignatureCheck | None:
        """The check a flow asks for, or None when its webhook calls are not signed.

        A flow with a header but a secret that cannot be read (the key changed) refuses every call rather
        than accepting unsigned ones."""
        if not flow.webhook_signature_header:
            return None
        try:
            secret = flow.get_webhook_secret()
        except SecretsUnreadable:
            secret = ""
        return cls(
            header=flow.webhook_signature_header,
            algorithm=flow.webhook_signature_algorithm or "sha256",
            encoding=flow.webhook_signature_encoding or "hex",
            prefix=flow.webhook_signature_prefix or "",
            secret=secret,
        )

    def expected(self, body: bytes) -> str:
        digest = hmac.new(self.secret.encode(), body, ALGORITHMS[self.algorithm]).digest()
        encoded = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode("ascii")
        return self.prefix + encoded

    def problem(self, request: HttpRequest) -> str | None:
        """Why the call's signature is not accepted, or None when it is."""
        given = request.headers.get(self.header, "").strip()
        if not given:
            return f"The call is not signed: header {self.header} is missing."
        if not self.secret:
            return "The flow's webhook secret is not set (or unreadable); no call can be verified."
        expected = self.expected(request.body)
        if self.encoding == "hex":
            given, expected = given.lower(), expected.lower()
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
            return f"The signature in header {self.header} does not match the body."
        return None


def is_caller_credential(name: str, signature_header: str = "") -> bool:
    """True for a caller's header that must not be stored: credentials, cookies and the signature."""
    lowered = name.lower()
    return (
        lowered in CALLER_CREDENTIAL_HEADERS
        or (bool(signature_header) and lowered == signature_header.lower())
        or is_credential_name(lowered)
    )
