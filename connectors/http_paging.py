"""Pagination strategies of the shared HTTP client: Link headers, cursors, page numbers and offsets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from connectors.base import RawPayload
from connectors.http_errors import HttpError, PageCapReached, PayloadError
from connectors.redact import redact_url

log = logging.getLogger(__name__)

Json = Any
Page = tuple[Json, RawPayload]


class Paginated:
    """The paginators of HttpClient, built on its `request_json`, `url` and `max_pages`."""

    max_pages: int
    url: Callable[[str], str]
    request_json: Callable[..., tuple[Json, RawPayload, requests.Response]]

    def _cap(
        self, max_pages: int | None, on_cap: Literal["raise", "warn"], path: str
    ) -> Callable[[int], bool]:
        """A predicate: may page n (1-based) be fetched? Raises or warns once the cap is passed."""
        cap = max_pages or self.max_pages

        def allowed(n: int) -> bool:
            if n <= cap:
                return True
            message = (
                f"{redact_url(self.url(path))}: stopped after max_pages={cap} pages while the server "
                "had more; narrow the window or raise max_pages"
            )
            if on_cap == "raise":
                raise PageCapReached(message, method="GET", url=redact_url(self.url(path)))
            log.warning("%s (the result is truncated)", message)
            return False

        return allowed

    def paginate_link(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
        on_cap: Literal["raise", "warn"] = "raise",
    ) -> Iterator[Page]:
        """Follow RFC 5988 `Link: <...>; rel="next"` headers (GitHub, GitLab); yields (json, raw) per page."""
        allowed = self._cap(max_pages, on_cap, path)
        origin = urlsplit(self.url(path))[:2]
        url: str | None = path
        n = 1
        while url is not None and allowed(n):
            body, raw, response = self.request_json("GET", url, params=params, headers=headers)
            yield body, raw
            url = response.links.get("next", {}).get("url")
            if url is not None and urlsplit(url)[:2] != origin:
                shown = redact_url(url)
                raise HttpError(
                    f"GET {raw.uri}: Link rel=next points to another origin ({shown}); refusing to send "
                    "credentials there",
                    method="GET",
                    url=shown,
                )
            params, n = None, n + 1

    def paginate_cursor(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        cursor_param: str,
        next_cursor: Callable[[Json], str | None],
        *,
        method: Literal["GET", "POST"] = "GET",
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
        on_cap: Literal["raise", "warn"] = "raise",
    ) -> Iterator[Page]:
        """Send `next_cursor(json)` back as `cursor_param` until it is empty; yields (json, raw)."""
        allowed = self._cap(max_pages, on_cap, path)
        query = dict(params or {})
        seen: set[str] = set()
        n = 1
        while allowed(n):
            body, raw, _ = self.request_json(method, path, params=query, headers=headers)
            yield body, raw
            cursor = next_cursor(body)
            if not cursor:
                return
            if cursor in seen:
                raise PayloadError(
                    f"{method} {raw.uri}: the server returned cursor {cursor!r} twice; stopping a loop",
                    method=method,
                    url=raw.uri,
                )
            seen.add(cursor)
            query[cursor_param] = cursor
            n += 1

    def paginate_page(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_param: str = "page",
        per_page_param: str = "per_page",
        per_page: int = 100,
        first_page: int = 1,
        items: Callable[[Json], list[Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
        on_cap: Literal["raise", "warn"] = "raise",
    ) -> Iterator[Page]:
        """Numbered pages (`page=1,2,..&per_page=N`) until one has fewer than N items; yields (json, raw)."""
        yield from self._paginate_numbered(
            path,
            params,
            page_param,
            per_page_param,
            per_page,
            first_page,
            1,
            items,
            headers,
            max_pages,
            on_cap,
        )

    def paginate_offset(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        items: Callable[[Json], list[Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
        on_cap: Literal["raise", "warn"] = "raise",
    ) -> Iterator[Page]:
        """Offset/limit pages (`offset=0,N,2N...&limit=N`) until a page has fewer than N items."""
        yield from self._paginate_numbered(
            path, params, offset_param, limit_param, limit, 0, limit, items, headers, max_pages, on_cap
        )

    def _paginate_numbered(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        number_param: str,
        size_param: str,
        size: int,
        first: int,
        step: int,
        items: Callable[[Json], list[Any]] | None,
        headers: Mapping[str, str] | None,
        max_pages: int | None,
        on_cap: Literal["raise", "warn"],
    ) -> Iterator[Page]:
        allowed = self._cap(max_pages, on_cap, path)
        query = {**(params or {}), size_param: size}
        n = 1
        while allowed(n):
            query[number_param] = first + (n - 1) * step
            body, raw, _ = self.request_json("GET", path, params=query, headers=headers)
            yield body, raw
            page = items(body) if items is not None else body
            if not isinstance(page, list):
                raise PayloadError(
                    f"GET {raw.uri}: expected a JSON list of items, got {type(page).__name__}",
                    method="GET",
                    url=raw.uri,
                )
            if len(page) < size:
                return
            n += 1
