"""Encryption at rest for connector secrets (cryptography's Fernet).

The key is PATCHBAY_FERNET_KEY when set, otherwise derived from SECRET_KEY so a local install needs no extra
set-up. Changing either makes stored secrets unreadable: `decrypt_secrets` then raises SecretsUnreadable.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretsUnreadable(Exception):
    """Stored secrets cannot be decrypted with the current key."""


@lru_cache(maxsize=4)
def _fernet(key_material: str, secret_key: str) -> Fernet:
    if key_material:
        return Fernet(key_material.encode())
    digest = hashlib.sha256(("patchbay-connector-secrets:" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def fernet() -> Fernet:
    return _fernet(settings.PATCHBAY_FERNET_KEY, settings.SECRET_KEY)


def encrypt_secrets(values: dict[str, str]) -> str:
    """Encrypt a dict of secret name -> value; an empty dict is stored as the empty string."""
    clean = {k: v for k, v in values.items() if v}
    if not clean:
        return ""
    return fernet().encrypt(json.dumps(clean, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretsUnreadable("Connector secrets cannot be decrypted with the current key.") from exc
