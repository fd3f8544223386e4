"""The one HTTP client every HTTP connector uses: timeouts, retries, rate limits, pagination, redaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from connectors.base import RawPayload
from connectors.http_auth import BasicAuth, BearerAuth, HeaderAuth
from connectors.http_errors import HttpError, PayloadError, RateLimited
from connectors.http_paging import Json, Page, Paginated
from connectors.http_retry import RETRY_METHODS, RETRY_STATUSES, BoundedRetry, rate_limit_reset_wait
from connectors.redact import install_log_redaction, redact_text, redact_url

# the auth classes are part of the documented client API (`from connectors.http import BearerAuth`)
__all__ = ["BasicAuth", "BearerAuth", "HeaderAuth", "HttpClient"]

log = logging.getLogger(__name__)

USER_AGENT = "postmortem-connectors/0.1"
EXCERPT = 300


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "application/octet-stream").split(";", 1)[0].strip()


class HttpClient(Paginated):
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
