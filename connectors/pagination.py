"""Endpoint pagination: page number, offset / limit, next URL in the body, `Link` header, cursor.

`Endpoint.pagination` is `{"style": ..., options}` (see designer.models.Endpoint). Every page is one output
payload; a pager only decides the next request from the current one and its response. A next-page URL
(`next_url`, `Link`) on another origin than the connector's is refused with `PaginationError` unless the
connector lists its host (`Connector.allowed_hosts`): the response must not choose where credentials go.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin

import jmespath
from jmespath.exceptions import JMESPathError

from connectors.errors import PaginationError
from connectors.origins import TrustedOrigins, describe_origin
from connectors.requests import RequestSpec


def _int(options: dict[str, Any], name: str, default: int) -> int:
    try:
        return int(options.get(name, default))
    except (TypeError, ValueError):
        return default


class Pager:
    def __init__(self, options: dict[str, Any] | None, *, trusted: TrustedOrigins | None = None) -> None:
        self.options = dict(options or {})
        self.trusted = trusted
        self.style = str(self.options.get("style") or "none")
        if self.style not in {"none", "page_number", "offset_limit", "next_url", "link_header", "cursor"}:
            raise PaginationError(f"Unknown pagination style {self.style!r}.")

    @property
    def active(self) -> bool:
        return self.style != "none"

    def first(self, spec: RequestSpec) -> RequestSpec:
        params = dict(spec.params)
        if self.style == "page_number":
            params[str(self.options.get("page_param") or "page")] = str(_int(self.options, "start", 1))
            if self.options.get("size_param") and self.options.get("page_size"):
                params[str(self.options["size_param"])] = str(_int(self.options, "page_size", 100))
        elif self.style == "offset_limit":
            params[str(self.options.get("offset_param") or "offset")] = str(_int(self.options, "start", 0))
            params[str(self.options.get("limit_param") or "limit")] = str(_int(self.options, "limit", 100))
        return replace(spec, params=params)

    def _body(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise PaginationError(f"Pagination ({self.style}) needs a JSON response body: {exc}") from exc

    def _search(self, expression: str, document: Any) -> Any:
        try:
            return jmespath.search(expression, document)
        except JMESPathError as exc:
            raise PaginationError(f"Pagination: invalid JMESPath {expression!r}: {exc}") from exc

    def _items(self, text: str) -> list[Any] | None:
        if not text.strip():
            return []
        body = self._body(text)
        items = (
            self._search(str(self.options["items_path"]), body) if self.options.get("items_path") else body
        )
        if items is None:
            return []
        return items if isinstance(items, list) else None

    def _checked(self, url: str) -> str:
        if url.split(":", 1)[0].lower() not in ("http", "https"):
            raise PaginationError(f"Pagination ({self.style}): the next page URL is not an http(s) URL.")
        if self.trusted is not None and not self.trusted.trusts(url):
            raise PaginationError(
                f"Pagination ({self.style}): the next page is on another origin ({describe_origin(url)});"
                " it is not followed, so the connector's credentials stay with it. List the host in the"
                " connector's allowed hosts to follow it."
            )
        return url

    def next(
        self, spec: RequestSpec, *, body: str, links: dict[str, dict[str, str]], url: str
    ) -> RequestSpec | None:
        """The request for the page after `spec`'s, or None when this was the last page."""
        if self.style == "none":
            return None
        if self.style in ("page_number", "offset_limit"):
            items = self._items(body)
            if items is None:
                raise PaginationError(
                    f"Pagination ({self.style}): the page's items are not a list (set items_path)."
                )
            if self.style == "page_number":
                size = _int(self.options, "page_size", 0)
            else:
                size = _int(self.options, "limit", 100)
            if not items or (size and len(items) < size):
                return None
            params = dict(spec.params)
            if self.style == "page_number":
                name = str(self.options.get("page_param") or "page")
                params[name] = str(int(params.get(name, _int(self.options, "start", 1))) + 1)
            else:
                name = str(self.options.get("offset_param") or "offset")
                params[name] = str(int(params.get(name, _int(self.options, "start", 0))) + len(items))
            return replace(spec, params=params)
        if self.style == "next_url":
            next_url = self._search(
                str(self.options.get("next_path") or "next"), self._body(body) if body else None
            )
            if not next_url:
                return None
            return replace(spec, url=self._checked(urljoin(url, str(next_url))), params={})
        if self.style == "link_header":
            link = links.get("next")
            if not link or not link.get("url"):
                return None
            return replace(spec, url=self._checked(urljoin(url, link["url"])), params={})
        cursor = self._search(
            str(self.options.get("cursor_path") or "next_cursor"), self._body(body) if body else None
        )
        if cursor in (None, "", [], {}):
            return None
        params = dict(spec.params)
        params[str(self.options.get("cursor_param") or "cursor")] = str(cursor)
        return replace(spec, params=params)
