"""Reading vendor JSON payloads: timestamps with offsets, required lists and objects, with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from connectors.base import RawPayload
from connectors.http import PayloadError

_TIMESTAMP = TypeAdapter(AwareDatetime)


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 timestamp with an offset as aware UTC; ValueError naming the record and field."""
    try:
        return _TIMESTAMP.validate_python(value)
    except ValidationError:
        raise ValueError(f"{where}: {value!r} is not an ISO 8601 timestamp with an offset") from None


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
