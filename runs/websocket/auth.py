"""Websocket authentication: the session cookie (browsers) or an `Authorization: Token <key>` header."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class _TokenAuthMiddleware(BaseMiddleware):
    """Runs after the session middleware: a valid token header wins, a bad one makes the user anonymous."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization:
            kind, _, key = authorization.partition(" ")
            if kind.lower() == "token" and key.strip():
                scope["user"] = await _user_for_token(key.strip())
            else:
                scope["user"] = AnonymousUser()
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddleware(inner: Any) -> Any:
    return AuthMiddlewareStack(_TokenAuthMiddleware(inner))
