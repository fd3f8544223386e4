"""PagerDuty: the incident record, its log entries and notes from the REST API v2.

Config (`[connectors.<name>] type = "pagerduty"`), client (the shared HttpClient with
`Authorization: Token token=<key>`, offset/limit pages followed while the API answers `more: true`)
and adapter: `GET /incidents/{id}` plus its log -> Incident (milestones from the log), log entries
and notes -> ChatMessage records of the `chat` dataset (the responders' own account).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from connectors.base import Collected, RawPayload
from connectors.config import HttpConfig, SecretRef
from connectors.http import HeaderAuth, HttpClient
from connectors.payload import list_at, object_at, parse_time, require_time
from connectors.registry import ConnectorType
from postmortem.model import ChatMessage, Incident, Severity

API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"


# ---------------------------------------------------------------- config


class PagerDutyConfig(HttpConfig):
    """`type = "pagerduty"`: API URL, REST API key, severity mapping, optional impact-start field."""

    url: str = Field(API_URL, description="base URL of the REST API")
    token: SecretRef = Field(description="REST API key (sent as `Authorization: Token token=...`)")
    priority_severity: dict[str, Severity] = Field(
        default_factory=lambda: {"P1": "SEV1", "P2": "SEV2", "P3": "SEV3", "P4": "SEV4", "P5": "SEV5"},
        description="incident priority (its name, e.g. P1) -> severity",
    )
    urgency_severity: dict[str, Severity] = Field(
        default_factory=lambda: {"high": "SEV2", "low": "SEV4"},
        description="urgency -> severity, used when the incident has no mapped priority",
    )
    started_at_field: str | None = Field(
        None, description="incident custom field (name or display name) holding the impact start"
    )
    page_size: int = Field(100, ge=1, le=100, description="log entries per request (`limit`)")


# ---------------------------------------------------------------- adapter


def _summary(ref: Any) -> str | None:
    """The `summary` of a PagerDuty reference object (user, service, team, priority), if any."""
    return (ref.get("summary") or ref.get("name")) if isinstance(ref, Mapping) else None


def severity_of(incident: Mapping[str, Any], config: PagerDutyConfig, source: str) -> Severity:
    """The severity: the mapped priority, else the mapped urgency; ValueError naming both otherwise."""
    priority, urgency = _summary(incident.get("priority")), incident.get("urgency")
    if priority in config.priority_severity:
        return config.priority_severity[priority]
    if urgency in config.urgency_severity:
        return config.urgency_severity[urgency]
    raise ValueError(
        f"PagerDuty incident {incident.get('id')}: neither field 'priority' ({priority!r}) nor 'urgency' "
        f"({urgency!r}) maps to a severity; set priority_severity or urgency_severity in "
        f"[connectors.{source}]"
    )


def log_milestones(entries: list[Mapping[str, Any]], incident_id: str) -> dict[str, datetime | None]:
    """First `acknowledge_log_entry` -> acknowledged_at, last `resolve_log_entry` -> resolved_at."""
    stamps: dict[str, list[datetime]] = {"acknowledge_log_entry": [], "resolve_log_entry": []}
    for entry in entries:
        if entry.get("type") in stamps:
            where = f"PagerDuty incident {incident_id} log entry {entry.get('id')} field 'created_at'"
            stamps[entry["type"]].append(require_time(entry.get("created_at"), where))
    acks, resolves = stamps["acknowledge_log_entry"], stamps["resolve_log_entry"]
    return {"acknowledged_at": min(acks, default=None), "resolved_at": max(resolves, default=None)}


def custom_field_time(fields: list[Mapping[str, Any]], name: str, incident_id: str) -> datetime | None:
    """The timestamp held by the custom field `name` (or display name); None when it is unset."""
    for item in fields:
        if name in (item.get("name"), item.get("display_name")):
            value = item.get("value")
            where = f"PagerDuty incident {incident_id} custom field {name!r}"
            return parse_time(value, where)
    return None


def incident_record(
    incident: Mapping[str, Any],
    entries: list[Mapping[str, Any]],
    config: PagerDutyConfig,
    source: str,
    impact_start: datetime | None = None,
) -> Incident:
    """The Incident: detected = created_at, acknowledged/resolved from the log, started = impact_start."""
    iid = str(incident.get("id") or "")
    if not iid:
        raise ValueError("PagerDuty incident without field 'id'")
    created = require_time(incident.get("created_at"), f"PagerDuty incident {iid} field 'created_at'")
    status = str(incident.get("status") or "")
    milestones = log_milestones(entries, iid)
    if milestones["resolved_at"] is None and status == "resolved" and incident.get("resolved_at"):
        where = f"PagerDuty incident {iid} field 'resolved_at'"
        milestones["resolved_at"] = require_time(incident["resolved_at"], where)
    services = [s for s in [_summary(incident.get("service"))] if s]
    teams = [t for t in (_summary(team) for team in incident.get("teams") or []) if t]
    body = incident.get("body") if isinstance(incident.get("body"), Mapping) else {}
    details = body.get("details") if isinstance(body.get("details"), str) else ""
    number = incident.get("incident_number")
    return Incident(
        id=iid,
        title=str(incident.get("title") or incident.get("summary") or ""),
        severity=severity_of(incident, config, source),
        status=status,
        services=services,
        started_at=impact_start or created,
        detected_at=created,
        acknowledged_at=milestones["acknowledged_at"],
        resolved_at=milestones["resolved_at"],
        team=teams[0] if teams else None,
        summary=details,
        source=source,
        url=incident.get("html_url"),
        reference=f"#{number}" if number is not None else None,
        urgency=incident.get("urgency"),
        priority=_summary(incident.get("priority")),
    )


def log_entry_messages(entries: list[Mapping[str, Any]], channel: str, incident_id: str) -> list[ChatMessage]:
    """One ChatMessage per log entry: who (the agent) did what (its summary), when."""
    return [
        ChatMessage(
            ts=require_time(
                e.get("created_at"), f"PagerDuty incident {incident_id} log entry {e.get('id')} 'created_at'"
            ),
            channel=channel,
            user=_summary(e.get("agent")),
            text=e.get("summary") or str(e.get("type") or "").removesuffix("_log_entry").replace("_", " "),
            kind=str(e.get("type") or "").removesuffix("_log_entry") or None,
            id=e.get("id"),
            url=e.get("html_url"),
        )
        for e in entries
    ]


def note_messages(notes: list[Mapping[str, Any]], channel: str, incident_id: str) -> list[ChatMessage]:
    """One ChatMessage per note: its author and content."""
    return [
        ChatMessage(
            ts=require_time(
                n.get("created_at"), f"PagerDuty incident {incident_id} note {n.get('id')} 'created_at'"
            ),
            channel=channel,
            user=_summary(n.get("user")),
            text=n.get("content") or "",
            kind="note",
            id=n.get("id"),
        )
        for n in notes
    ]


def next_offset(body: Any) -> str | None:
    """The offset of the next page while PagerDuty answers `more: true`."""
    if not isinstance(body, Mapping) or not body.get("more"):
        return None
    return str(int(body.get("offset") or 0) + len(body.get("log_entries") or []))


# ---------------------------------------------------------------- connector


class PagerDutyConnector:
    """PagerDuty incidents (capability `incident`), their log entries and notes (`incident_evidence`)."""

    def __init__(self, config: PagerDutyConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(
            name,
            auth=HeaderAuth("Authorization", config.token, prefix="Token token="),
            headers={**config.headers, "Accept": ACCEPT},
        )

    def __repr__(self) -> str:
        return f"PagerDutyConnector(name={self.name!r}, client={self.client!r})"

    def log_entries(self, incident_id: str) -> tuple[list[dict[str, Any]], list[RawPayload]]:
        """Every log entry of the incident (all pages) and the raw pages."""
        entries: list[dict[str, Any]] = []
        raw: list[RawPayload] = []
        params = {"limit": self.config.page_size, "time_zone": "UTC", "is_overview": "false"}
        path = f"/incidents/{incident_id}/log_entries"
        for body, payload in self.client.paginate_cursor(path, params, "offset", next_offset):
            entries.extend(list_at(body, "log_entries", payload))
            raw.append(payload)
        return entries, raw

    def fetch_incident(self, incident_id: str) -> Incident:
        """The incident as PagerDuty knows it now, milestones from its log."""
        body, raw = self.client.get_json(f"/incidents/{incident_id}")
        incident = object_at(body, "incident", raw)
        entries, _ = self.log_entries(incident_id)
        impact_start = None
        if self.config.started_at_field:
            fields_body, fields_raw = self.client.get_json(f"/incidents/{incident_id}/custom_fields/values")
            fields = list_at(fields_body, "custom_fields", fields_raw)
            impact_start = custom_field_time(fields, self.config.started_at_field, incident_id)
        return incident_record(incident, entries, self.config, self.name, impact_start)

    def fetch_incident_evidence(self, incident_id: str) -> list[Collected]:
        """Log entries and notes as `chat` messages (channels `<name>:log` and `<name>:notes`)."""
        entries, raw = self.log_entries(incident_id)
        body, notes_raw = self.client.get_json(f"/incidents/{incident_id}/notes")
        notes = list_at(body, "notes", notes_raw)
        messages = log_entry_messages(entries, f"{self.name}:log", incident_id)
        messages += note_messages(notes, f"{self.name}:notes", incident_id)
        messages.sort(key=lambda m: m.ts)
        return [Collected("chat", messages, [*raw, notes_raw])]


CONNECTOR = ConnectorType(
    type="pagerduty",
    config=PagerDutyConfig,
    factory=PagerDutyConnector,
    capabilities=("incident", "incident_evidence"),
    summary="PagerDuty REST API v2: incidents (milestones from the log), log entries and notes as chat",
)
