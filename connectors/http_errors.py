"""Errors of the shared HTTP client, naming the method, the redacted URL, the status and a body excerpt."""

from __future__ import annotations


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
