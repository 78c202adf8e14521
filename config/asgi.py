"""ASGI entry point: HTTP through Django, websockets through Channels (DESIGN section 8).

`/hooks/{key}/` goes straight to the webhook trigger's ASGI handler (runs.triggers.webhook.asgi_webhook):
the same contract without Django's middleware stack and its thread hop per call. Everything else over HTTP
goes through Django.
"""

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.websocket_origin import SameOriginValidator  # noqa: E402
from runs.triggers.webhook import asgi_webhook, fast_path_key  # noqa: E402
from runs.websocket.auth import TokenOrSessionAuthMiddleware  # noqa: E402
from runs.websocket.routing import websocket_urlpatterns  # noqa: E402


async def http_application(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[Mapping[str, Any]], Awaitable[None]],
) -> None:
    key = fast_path_key(scope)
    if key is not None:
        await asgi_webhook(scope, receive, send, key)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        # Origin checked as scheme, host and port against the site itself (config/websocket_origin.py).
        "websocket": SameOriginValidator(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# The embedded executor and scheduler threads live in the server process (DESIGN section 9); this starts
# them only when this process is the server (runserver, daphne, ...) and PATCHBAY_EXECUTOR is embedded.
from runs.executors.embedded import start_for_server  # noqa: E402

start_for_server()
