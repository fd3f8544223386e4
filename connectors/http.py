"""The one HTTP client every HTTP connector uses: timeouts, retries, rate limits, pagination, redaction."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import orjson
import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from connectors.base import RawPayload
from connectors.redact import install_log_redaction, redact_text, redact_url

log = logging.getLogger(__name__)

USER_AGENT = "postmortem-connectors/0.1"
RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})
EXCERPT = 300

Json = Any
Page = tuple[Json, RawPayload]


class HttpError(RuntimeError):
    """A request that failed for good: carries the method, the redacted URL, the status and a body excerpt."""

    def __init__(self, message: str, *, method: str, url: str, status: int | None = None, body: str = ""):
        self.method, self.url, self.status, self.body = method, url, status, body
        super().__init__(message)


class PayloadError(HttpError):
    """The server answered 2xx with a body that is not the JSON it should be."""


class RateLimited(HttpError):
    """The server's rate limit would take longer than `max_wait` to reset."""


class PageCapReached(HttpError):
    """Pagination hit `max_pages` while the server still had more pages."""


def _secret(value: SecretStr | str) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


def _basic(username: str, password: SecretStr) -> str:
    return base64.b64encode(f"{username}:{password.get_secret_value()}".encode()).decode("ascii")


class BearerAuth(AuthBase):
    """`Authorization: <scheme> <token>` (scheme `Bearer` by default, `token` for some APIs)."""

    def __init__(self, token: SecretStr | str, scheme: str = "Bearer"):
        self.token, self.scheme = _secret(token), scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers["Authorization"] = f"{self.scheme} {self.token.get_secret_value()}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values, for redaction."""
        return [self.token.get_secret_value()]

    def __repr__(self) -> str:
        return f"BearerAuth(scheme={self.scheme!r}, token={self.token!r})"


class BasicAuth(AuthBase):
    """HTTP basic authentication."""

    def __init__(self, username: str, password: SecretStr | str):
        self.username, self.password = username, _secret(password)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers["Authorization"] = f"Basic {_basic(self.username, self.password)}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values (the password and the encoded header), for redaction."""
        return [self.password.get_secret_value(), _basic(self.username, self.password)]

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={self.password!r})"


class HeaderAuth(AuthBase):
    """A custom header carrying the secret, e.g. `PRIVATE-TOKEN: <token>` (value = prefix + secret)."""

    def __init__(self, header: str, value: SecretStr | str, prefix: str = ""):
        self.header, self.value, self.prefix = header, _secret(value), prefix

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers[self.header] = f"{self.prefix}{self.value.get_secret_value()}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values, for redaction."""
        return [self.value.get_secret_value()]

    def __repr__(self) -> str:
        return f"HeaderAuth(header={self.header!r}, value={self.value!r})"


def rate_limit_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until a GitHub-style `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, else None."""
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    return max(0.0, reset - now) + 0.2


class BoundedRetry(Retry):
    """urllib3 Retry whose waits (Retry-After seconds or HTTP date, rate-limit reset) stay <= max_wait."""

    max_wait: float = 60.0

    def get_retry_after(self, response: Any) -> float | None:
        """Retry-After, else the rate-limit reset, capped at max_wait."""
        seconds = super().get_retry_after(response)
        if seconds is None:
            seconds = rate_limit_reset_wait(response.headers, time.time())
        return None if seconds is None else min(seconds, self.max_wait)

    def new(self, **kw: Any) -> BoundedRetry:
        """Copy carrying max_wait (urllib3 makes a new Retry per attempt)."""
        retry = super().new(**kw)
        retry.max_wait = self.max_wait
        return retry


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "application/octet-stream").split(";", 1)[0].strip()


class HttpClient:
    """A requests.Session with bounded retries, default timeouts, injected auth and redacted diagnostics."""

    def __init__(
        self,
        base_url: str,
        *,
        source: str = "http",
        auth: AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        max_pages: int = 100,
        rate_limit_retries: int = 3,
        verify: bool | str = True,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        install_log_redaction()
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.auth = auth
        self.timeout = (connect_timeout, read_timeout)
        self.max_wait = max_wait
        self.max_pages = max_pages
        self.rate_limit_retries = rate_limit_retries
        self.sleep, self.clock = sleep, clock
        self._secrets = auth.secrets() if hasattr(auth, "secrets") else []
        retry = BoundedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            backoff_max=max_wait,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=RETRY_METHODS,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        retry.max_wait = max_wait
        self.retries = retries
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.auth = auth
        self.session.verify = verify
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self.session.headers.update(headers or {})

    def __repr__(self) -> str:
        return (
            f"HttpClient(base_url={redact_url(self.base_url)!r}, source={self.source!r}, auth={self.auth!r})"
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self.session.close()

    def redact(self, text: str) -> str:
        """Text with secret query parameters and this client's literal secrets removed."""
        return redact_text(text, self._secrets)

    def url(self, path: str) -> str:
        """Absolute URL of a path below base_url (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    # ------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Json = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a request (retries, rate-limit waits); raise HttpError unless it ends 2xx."""
        url = self.url(path)
        shown = redact_url(url)
        for attempt in range(self.rate_limit_retries + 1):
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                detail = self.redact(str(exc))
                raise HttpError(
                    f"{method} {shown}: request failed after {self.retries} retries: {detail}",
                    method=method,
                    url=shown,
                ) from None
            shown = redact_url(response.url)
            wait = self._rate_limit_wait(response)
            if wait is None:
                break
            if wait > self.max_wait or response.status_code == 429 or attempt == self.rate_limit_retries:
                raise RateLimited(
                    f"{method} {shown}: rate limited ({response.status_code}); the limit resets in "
                    f"{wait:.0f} s, more than max_wait={self.max_wait:.0f} s or the retries allow",
                    method=method,
                    url=shown,
                    status=response.status_code,
                    body=self._excerpt(response),
                )
            log.warning("%s %s: rate limited, waiting %.1f s for the reset", method, shown, wait)
            self.sleep(wait)
        if not response.ok:
            raise self._status_error(method, shown, response)
        return response

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Seconds to wait when a 403/429 is a rate limit (x-ratelimit-remaining: 0 or Retry-After)."""
        if response.status_code not in (403, 429):
            return None
        wait = rate_limit_reset_wait(response.headers, self.clock())
        if wait is None and "Retry-After" in response.headers:
            wait = Retry().parse_retry_after(response.headers["Retry-After"])
        return wait

    def _excerpt(self, response: requests.Response) -> str:
        text = response.content[:EXCERPT].decode("utf-8", errors="replace")
        return self.redact(" ".join(text.split()))

    def _status_error(self, method: str, shown: str, response: requests.Response) -> HttpError:
        status = response.status_code
        after = f" (gave up after {self.retries} retries)" if status in RETRY_STATUSES else ""
        body = self._excerpt(response)
        return HttpError(
            f"{method} {shown}: HTTP {status} {response.reason or ''}{after}: {body}".rstrip(": "),
            method=method,
            url=shown,
            status=status,
            body=body,
        )

    def raw(self, response: requests.Response, data: Mapping[str, Any] | None = None) -> RawPayload:
        """The response as a RawPayload (form fields of a POST are shown as the query of the redacted uri)."""
        uri = response.url
        if data:
            uri = f"{uri}{'&' if '?' in uri else '?'}{urlencode(list(data.items()), doseq=True)}"
        return RawPayload(self.source, redact_url(uri), response.content, _content_type(response))

    def parse_json(self, response: requests.Response) -> Json:
        """The decoded JSON body; PayloadError naming the URL when it is not JSON."""
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            method = response.request.method or "GET"
            shown = redact_url(response.url)
            body = self._excerpt(response)
            raise PayloadError(
                f"{method} {shown}: response is not valid JSON ({exc}); body starts: {body[:120]!r}",
                method=method,
                url=shown,
                status=response.status_code,
                body=body,
            ) from None

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Json = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Json, RawPayload, requests.Response]:
        """Send a request and decode its JSON body; returns (json, raw payload, response)."""
        response = self.request(method, path, params=params, json=json, data=data, headers=headers)
        return self.parse_json(response), self.raw(response, data), response

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> Page:
        """GET a JSON document: (json, raw payload)."""
        body, raw, _ = self.request_json("GET", path, params=params, headers=headers)
        return body, raw

    def post_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Json = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """POST (a JSON body or form fields) and decode the JSON answer: (json, raw payload)."""
        body, raw, _ = self.request_json("POST", path, params=params, json=json, data=data, headers=headers)
        return body, raw

    # ------------------------------------------------------------ pagination

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
