"""Token authentication that throttles failures per client address.

django-axes (configured in settings) counts failed logins of the login page and the admin, because those go
through `django.contrib.auth.authenticate`. DRF's token authentication does not (it looks the key up
directly), so axes never sees a wrong token; and DRF's throttles run after authentication, so a request with
a wrong token is refused before any throttle counts it. This class counts wrong tokens per client address
in the cache and, past PATCHBAY_TOKEN_FAILURE_LIMIT failures within PATCHBAY_TOKEN_FAILURE_WINDOW seconds,
answers every token request from that address with 429 until the window has passed.

The websocket routes (`runs/websocket/auth.py`) count wrong tokens with the same functions and key, so the
failures of both channels add up and a throttled address is refused on both (close code 4429).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

CACHE_ALIAS = "throttle"


def _failure_key(address: str) -> str:
    return f"patchbay:token-failures:{address}"


def token_failures_throttled(address: str) -> bool:
    """Whether `address` has used up its wrong tokens for the window (always False with the limit at 0)."""
    limit = int(settings.PATCHBAY_TOKEN_FAILURE_LIMIT)
    return limit > 0 and int(caches[CACHE_ALIAS].get(_failure_key(address), 0)) >= limit


def count_token_failure(address: str) -> None:
    if int(settings.PATCHBAY_TOKEN_FAILURE_LIMIT) <= 0:
        return
    cache = caches[CACHE_ALIAS]
    key = _failure_key(address)
    if not cache.add(key, 1, timeout=int(settings.PATCHBAY_TOKEN_FAILURE_WINDOW)):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=int(settings.PATCHBAY_TOKEN_FAILURE_WINDOW))


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        limit = int(settings.PATCHBAY_TOKEN_FAILURE_LIMIT)
        if limit <= 0:
            return super().authenticate(request)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith(self.keyword.lower() + " ") and header.strip() != self.keyword:
            return super().authenticate(request)
        window = int(settings.PATCHBAY_TOKEN_FAILURE_WINDOW)
        address = request.META.get("REMOTE_ADDR", "")
        if token_failures_throttled(address):
            raise Throttled(
                wait=window,
                detail=f"Too many failed token authentications from this address; try again in {window} s.",
            )
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            count_token_failure(address)
            raise
