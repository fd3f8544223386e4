"""Reading vendor JSON payloads: timestamps with offsets, required lists and objects, with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from connectors.base import RawPayload
from connectors.http_errors import PayloadError

_TIMESTAMP = TypeAdapter(AwareDatetime)


def parse_time(value: Any, where: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset as aware UTC; None when absent; ValueError naming `where`."""
    if value in (None, ""):
        return None
    try:
        return _TIMESTAMP.validate_python(value).astimezone(UTC)
    except ValidationError:
        raise ValueError(f"{where}: {value!r} is not an ISO 8601 timestamp with an offset") from None


def require_time(value: Any, where: str) -> datetime:
    """Like parse_time, but a missing timestamp is an error too."""
    ts = parse_time(value, where)
    if ts is None:
        raise ValueError(f"{where}: the timestamp is missing")
    return ts


def list_at(body: Any, key: str, raw: RawPayload) -> list[dict[str, Any]]:
    """The list under `key` of a response body; PayloadError naming the URL when there is none."""
    value = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(value, list):
        raise PayloadError(
            f"GET {raw.uri}: expected a JSON object with a list {key!r}", method="GET", url=raw.uri
        )
    return value


def object_at(body: Any, key: str, raw: RawPayload) -> dict[str, Any]:
    """The object under `key` of a response body; PayloadError naming the URL when there is none."""
    value = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(value, dict):
        raise PayloadError(
            f"GET {raw.uri}: expected a JSON object with an object {key!r}", method="GET", url=raw.uri
        )
    return value
