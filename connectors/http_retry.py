"""Retry policy of the shared HTTP client: retried statuses and methods, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})


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
