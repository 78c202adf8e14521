"""Runaway protection: every run carries its trigger chain, the runs that led to it, oldest first
(`Run.trigger_chain`, a list of `{"run": id, "flow": id}`).

A run queued by a run (a run_flow shape, an error flow, an automatic retry) extends its parent's chain; a
webhook call made by a Patchbay run of this installation carries the caller's chain in the
`X-Patchbay-Trigger-Chain` header that the connector shape adds to every request to one of this
installation's own hosts (`sends_chain_to`; an outside API never sees it), signed with the
installation's secret key (a forged or foreign header is ignored: the call counts as an outside one).

A chain longer than PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH (10), or one in which the new run's flow would occur
more than PATCHBAY_TRIGGER_CHAIN_MAX_VISITS times (2: a flow may be revisited once) is refused with
`RunRefused` naming the chain, so flows that start each other (A runs B runs A, or a connector pointed at
its own flow's webhook) stop instead of creating runs without end.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.core import signing

from config.websocket_origin import serves_host
from runs.errors import RunRefused

HEADER = "X-Patchbay-Trigger-Chain"
META_KEY = "header_x_patchbay_trigger_chain"
_SALT = "patchbay.trigger-chain"
# A token older than this is ignored (a replayed request is an outside call).
TOKEN_MAX_AGE_SECONDS = 24 * 3600


def max_depth() -> int:
    return int(getattr(settings, "PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH", 10))


def max_visits() -> int:
    return int(getattr(settings, "PATCHBAY_TRIGGER_CHAIN_MAX_VISITS", 2))


def chain_after(run: Any) -> list[dict[str, int]]:
    """The chain of a run that `run` starts: `run`'s own chain, then `run`."""
    return [*list(run.trigger_chain or []), {"run": int(run.pk), "flow": int(run.flow_id)}]


def check_chain(chain: list[dict[str, int]], *, flow_id: int, flow_name: str) -> None:
    """Raise `RunRefused` when a run of `flow_id` with `chain` would pass a limit (module docstring)."""
    if len(chain) > max_depth():
        raise RunRefused(
            f"Trigger chain too deep: flow '{flow_name}' would be started by a chain of {len(chain)} runs "
            f"(runs {_describe(chain)}), more than PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH = {max_depth()}."
        )
    visits = 1 + sum(1 for link in chain if link.get("flow") == flow_id)
    if visits > max_visits():
        raise RunRefused(
            f"Trigger chain loops: flow '{flow_name}' would run for the {visits}th time in one chain "
            f"(runs {_describe(chain)}), more than PATCHBAY_TRIGGER_CHAIN_MAX_VISITS = {max_visits()}."
        )


def _describe(chain: list[dict[str, int]]) -> str:
    return " -> ".join(str(link.get("run")) for link in chain)


def outbound_token(run: Any) -> str:
    """The `X-Patchbay-Trigger-Chain` value for a request made by `run`."""
    return signing.dumps(chain_after(run), salt=_SALT, compress=True)


def sends_chain_to(url: httpx.URL | str) -> bool:
    """True when a request to `url` may carry the chain header: only to this installation's own hosts
    (`config.websocket_origin.serves_host`), never to an outside API."""
    try:
        host = httpx.URL(str(url)).host
    except httpx.InvalidURL:
        return False
    return bool(host) and serves_host(host)


def stamp(request: httpx.Request, run: Any) -> None:
    """Set the chain header of `request` when it goes to this installation, remove it otherwise."""
    if sends_chain_to(request.url):
        request.headers[HEADER] = outbound_token(run)
    else:
        request.headers.pop(HEADER, None)


def chain_from_token(token: str | None) -> list[dict[str, int]]:
    """The chain a webhook call carries; empty for no, a forged, a foreign or an expired token."""
    if not token:
        return []
    try:
        value = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return []
    if not isinstance(value, list):
        return []
    chain = []
    for link in value[: max_depth() + 1]:
        if isinstance(link, dict) and isinstance(link.get("run"), int) and isinstance(link.get("flow"), int):
            chain.append({"run": link["run"], "flow": link["flow"]})
    return chain
