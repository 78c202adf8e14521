"""Websocket authentication: the session cookie (browsers) or an `Authorization: Token <key>` header.

Wrong tokens count against the client address's limit shared with the REST API (config/authentication.py):
past PATCHBAY_TOKEN_FAILURE_LIMIT failures in the window, a token handshake from that address is refused with
close code 4429 without looking the token up (`scope["patchbay_token_throttled"]`, read by the consumers).
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from config.authentication import count_token_failure, token_failures_throttled


@database_sync_to_async
def _user_for_token(key: str, address: str) -> tuple[Any, bool]:
    """The token's user (anonymous for a wrong or inactive one) and whether the address is throttled."""
    from rest_framework.authtoken.models import Token

    if token_failures_throttled(address):
        return AnonymousUser(), True
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        count_token_failure(address)
        return AnonymousUser(), False
    return token.user, False


class _TokenAuthMiddleware(BaseMiddleware):
    """Runs after the session middleware: a valid token header wins, a bad one makes the user anonymous."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization:
            kind, _, key = authorization.partition(" ")
            if kind.lower() == "token" and key.strip():
                client = scope.get("client") or ("", 0)
                scope["user"], throttled = await _user_for_token(key.strip(), str(client[0] or ""))
                if throttled:
                    scope["patchbay_token_throttled"] = True
            else:
                scope["user"] = AnonymousUser()
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddleware(inner: Any) -> Any:
    return AuthMiddlewareStack(_TokenAuthMiddleware(inner))
