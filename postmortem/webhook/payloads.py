"""What a verified webhook body says: which delivery, which incident, and whether it closes the incident.

Payload shapes are the vendors' documented ones:
- PagerDuty v3: `{"event": {"id", "event_type", "resource_type", "occurred_at", "data": {"id", ...}}}`;
  acts on `incident.resolved`.
- incident.io: `{"event_type": T, T: {...}}`; acts on `public_incident.incident_status_updated_v2` when
  `new_status.category` becomes `learning` (resolved, in post-incident) or `closed`.
- Generic: `{"id", "incident_id", "status", "source"?, "title"?}`; acts when `status` is closed or resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

PAGERDUTY_CLOSING = "incident.resolved"
INCIDENTIO_STATUS_UPDATED = "public_incident.incident_status_updated_v2"
INCIDENTIO_CLOSED_CATEGORIES = frozenset({"learning", "closed"})
GENERIC_CLOSED_STATUSES = frozenset({"closed", "resolved"})
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_TEXT = 200  # the width of the delivery table's id columns


class PayloadError(ValueError):
    """The body is not the documented JSON shape (HTTP 400); the message names the field."""


@dataclass(frozen=True)
class Notice:
    """The meaning of one verified delivery."""

    source: str
    delivery_id: str
    event_type: str
    closes: bool
    reason: str
    incident_source: str = ""
    incident_id: str = ""
    title: str | None = None


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PayloadError("body is not a JSON object")
    return document


def _field(document: dict[str, Any], path: str, prefix: str) -> Any:
    """The value at a dotted path (each step an object key), or PayloadError naming the path."""
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise PayloadError(f"{prefix}: missing field {path!r}")
        value = value[key]
    return value


def _text(document: dict[str, Any], path: str, prefix: str) -> str:
    """A non-empty string (numbers are accepted and written as text) at a dotted path."""
    value = _field(document, path, prefix)
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise PayloadError(f"{prefix}: field {path!r} must be a non-empty string")
    if len(str(value)) > MAX_TEXT:
        raise PayloadError(f"{prefix}: field {path!r} is longer than {MAX_TEXT} characters")
    return str(value)


def _optional_text(document: dict[str, Any], path: str, prefix: str) -> str | None:
    try:
        value = _field(document, path, prefix)
    except PayloadError:
        return None
    return value if isinstance(value, str) else None


def pagerduty_notice(document: dict[str, Any]) -> Notice:
    """A PagerDuty v3 webhook: the event id is the delivery id (it is signed, unlike X-Webhook-Id)."""
    prefix = "PagerDuty v3 payload"
    delivery_id = _text(document, "event.id", prefix)
    event_type = _text(document, "event.event_type", prefix)
    if event_type != PAGERDUTY_CLOSING:
        return Notice("pagerduty", delivery_id, event_type, False, f"{event_type} does not close an incident")
    if _text(document, "event.resource_type", prefix) != "incident":
        raise PayloadError(f"{prefix}: {PAGERDUTY_CLOSING} must have resource_type 'incident'")
    return Notice(
        source="pagerduty",
        delivery_id=delivery_id,
        event_type=event_type,
        closes=True,
        reason="PagerDuty incident resolved",
        incident_source="pagerduty",
        incident_id=_text(document, "event.data.id", prefix),
        title=_optional_text(document, "event.data.title", prefix),
    )


def incidentio_notice(document: dict[str, Any], delivery_id: str) -> Notice:
    """An incident.io webhook; the Svix `webhook-id` header (signed) is the delivery id."""
    prefix = "incident.io payload"
    event_type = _text(document, "event_type", prefix)
    if event_type != INCIDENTIO_STATUS_UPDATED:
        return Notice("incidentio", delivery_id, event_type, False, f"{event_type} is not a status change")
    body = document.get(event_type)  # the key is the event type itself, dots included
    if not isinstance(body, dict):
        raise PayloadError(f"{prefix}: field {event_type!r} must be an object")
    new = _text(body, "new_status.category", f"{prefix} {event_type}")
    previous = _text(body, "previous_status.category", f"{prefix} {event_type}")
    if new not in INCIDENTIO_CLOSED_CATEGORIES or previous in INCIDENTIO_CLOSED_CATEGORIES:
        return Notice(
            "incidentio",
            delivery_id,
            event_type,
            False,
            f"status category {previous} -> {new} does not close",
        )
    return Notice(
        source="incidentio",
        delivery_id=delivery_id,
        event_type=event_type,
        closes=True,
        reason=f"incident.io status category {previous} -> {new}",
        incident_source="incidentio",
        incident_id=_text(body, "incident.id", f"{prefix} {event_type}"),
        title=_optional_text(body, "incident.name", prefix),
    )


def generic_notice(document: dict[str, Any]) -> Notice:
    """A generic signed notice; `source` (default `generic`) names the system that holds the incident."""
    prefix = "generic payload"
    delivery_id = _text(document, "id", prefix)
    status = _text(document, "status", prefix).lower()
    incident_source = document.get("source", "generic")
    if not isinstance(incident_source, str) or not _SOURCE_NAME.fullmatch(incident_source):
        raise PayloadError(f"{prefix}: field 'source' must match {_SOURCE_NAME.pattern}")
    incident_id = _text(document, "incident_id", prefix)
    if status not in GENERIC_CLOSED_STATUSES:
        return Notice("generic", delivery_id, f"status.{status}", False, f"status {status} does not close")
    return Notice(
        source="generic",
        delivery_id=delivery_id,
        event_type=f"status.{status}",
        closes=True,
        reason=f"{incident_source} incident {status}",
        incident_source=incident_source,
        incident_id=incident_id,
        title=_optional_text(document, "title", prefix),
    )
