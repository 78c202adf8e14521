"""A small demo shop API served by Patchbay itself under /demo-api/ (only with PATCHBAY_DEMO on), for the demo
connector and flows.

- `GET  /demo-api/orders/`                 the orders (number, status, customer, total)
- `GET  /demo-api/orders/{n}`              one order; 404 for an unknown number
- `GET  /demo-api/session/orders/{n}`      the same order, but 200 with `{"error": "Invalid session"}` until
                                           the session is refreshed (what response scripts are for)
- `POST /demo-api/session/refresh`         refreshes the session
- `POST /demo-api/session/reset`           makes the session invalid again (to replay the demo)

The session lives in this process's memory: it is demo state, not data. No authentication, read-only data.
"""

from __future__ import annotations

import threading

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

STATUSES = ("new", "processing", "shipped", "delivered", "cancelled", "on_hold")
CUSTOMERS = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Barbara Liskov", "Edsger Dijkstra")
ORDER_COUNT = 12


def demo_order(number: int) -> dict[str, object]:
    """A deterministic order: order n has status STATUSES[(n - 1) % 6] (1 new, 2 processing, 3 shipped)."""
    return {
        "number": number,
        "status": STATUSES[(number - 1) % len(STATUSES)],
        "customer": CUSTOMERS[number % len(CUSTOMERS)],
        "currency": "EUR",
        "total": round(19.5 * number + 4.25, 2),
        "lines": [
            {"sku": f"SKU-{number:03d}-{line}", "quantity": line, "price": 9.75} for line in range(1, 3)
        ],
    }


class _Session:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._valid = False

    @property
    def valid(self) -> bool:
        with self._lock:
            return self._valid

    def set(self, valid: bool) -> None:
        with self._lock:
            self._valid = valid


session = _Session()


def _not_found(number: int) -> JsonResponse:
    return JsonResponse({"detail": f"Order {number} does not exist.", "errors": []}, status=404)


@require_GET
def list_orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"orders": [demo_order(n) for n in range(1, ORDER_COUNT + 1)]})


@require_GET
def get_order(request: HttpRequest, number: int) -> JsonResponse:
    if not 1 <= number <= ORDER_COUNT:
        return _not_found(number)
    return JsonResponse(demo_order(number))


@require_GET
def get_session_order(request: HttpRequest, number: int) -> JsonResponse:
    # Deliberately 200: some real APIs report an expired session in the body, not in the status code.
    if not session.valid:
        return JsonResponse({"error": "Invalid session", "hint": "POST /demo-api/session/refresh"})
    if not 1 <= number <= ORDER_COUNT:
        return _not_found(number)
    return JsonResponse(demo_order(number))


@csrf_exempt
@require_POST
def refresh_session(request: HttpRequest) -> JsonResponse:
    session.set(True)
    return JsonResponse({"session": "valid"})


@csrf_exempt
@require_POST
def reset_session(request: HttpRequest) -> JsonResponse:
    session.set(False)
    return JsonResponse({"session": "invalid"})


urlpatterns = [
    path("orders/", list_orders, name="demo-orders"),
    path("orders/<int:number>", get_order, name="demo-order"),
    path("orders/<int:number>/", get_order),
    path("session/orders/<int:number>", get_session_order, name="demo-session-order"),
    path("session/orders/<int:number>/", get_session_order),
    path("session/refresh", refresh_session, name="demo-session-refresh"),
    path("session/reset", reset_session, name="demo-session-reset"),
]
