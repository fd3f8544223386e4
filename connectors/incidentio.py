"""incident.io: the incident record, its updates and its follow-ups from the v2 API.

Config (`[connectors.<name>] type = "incidentio"`), client (the shared HttpClient with a bearer token,
cursor pages: `page_size` and `after` from `pagination_meta.after`) and adapter:
`GET /v2/incidents/{id}` -> Incident (milestones from its timestamps, severity by name through a
configurable map), incident updates -> ChatMessage records of the `chat` dataset, follow-ups -> Action
records (proposed remediation, judged by the quality gate like any other).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.base import Collected, RawPayload
from connectors.config import HttpConfig, SecretRef
from connectors.http import BearerAuth, HttpClient
from connectors.payload import list_at, object_at, parse_time, require_time
from connectors.registry import ConnectorType
from postmortem.model import Action, ChatMessage, Incident, Severity

API_URL = "https://api.incident.io"
Milestone = Literal["started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at"]
RESOLVED_CATEGORIES = ("learning", "closed")
"""Status categories of an incident whose impact is over (post-incident learning, or closed)."""

DEFAULT_MILESTONES: dict[str, list[str]] = {
    "started_at": ["Impact started", "Impact started at"],
    "detected_at": ["Reported at"],
    "acknowledged_at": ["Accepted at"],
    "mitigated_at": ["Mitigated at", "Fixed at"],
    "resolved_at": ["Resolved at", "Closed at"],
}


# ---------------------------------------------------------------- config


class IncidentIoConfig(HttpConfig):
    """`type = "incidentio"`: API URL, API key, severity and timestamp mapping, services field."""

    url: str = Field(API_URL, description="base URL of the API")
    token: SecretRef = Field(description="API key (sent as a bearer token)")
    severity_map: dict[str, Severity] = Field(
        default_factory=lambda: {"Critical": "SEV1", "Major": "SEV2", "Minor": "SEV3"},
        description="incident.io severity name -> severity",
    )
    milestones: dict[Milestone, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_MILESTONES.items()},
        description="milestone -> incident timestamp names, the first one set wins",
    )
    services_field: str | None = Field(
        "Affected services", description="custom field listing the affected services (catalog or options)"
    )
    page_size: int = Field(250, ge=1, le=250, description="incident updates per request")

    @field_validator("milestones")
    @classmethod
    def _keep_defaults(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Milestones not configured keep their default timestamp names."""
        return {**{k: list(v) for k, v in DEFAULT_MILESTONES.items()}, **value}


# ---------------------------------------------------------------- adapter


def _name(ref: Any) -> str | None:
    return ref.get("name") if isinstance(ref, Mapping) else None


def timestamp_values(incident: Mapping[str, Any]) -> dict[str, datetime]:
    """The incident's set timestamps by name (`incident_timestamp_values`), as aware UTC."""
    iid = incident.get("id")
    found: dict[str, datetime] = {}
    for item in incident.get("incident_timestamp_values") or []:
        name = _name(item.get("incident_timestamp"))
        value = item.get("value")
        value = value.get("value") if isinstance(value, Mapping) else value
        if name and value:
            found[name] = require_time(value, f"incident.io incident {iid} timestamp {name!r}")
    return found


def field_values(incident: Mapping[str, Any], field: str) -> list[str]:
    """The values of one custom field: catalog entry names, option values, text."""
    out: list[str] = []
    for entry in incident.get("custom_field_entries") or []:
        if _name(entry.get("custom_field")) != field:
            continue
        for value in entry.get("values") or []:
            text = (
                _name(value.get("value_catalog_entry"))
                or (value.get("value_option") or {}).get("value")
                or value.get("value_text")
            )
            if text:
                out.append(str(text))
    return out


def severity_of(incident: Mapping[str, Any], config: IncidentIoConfig, source: str) -> Severity:
    """The mapped severity; ValueError naming the incident, the value and the setting otherwise."""
    name = _name(incident.get("severity"))
    if name in config.severity_map:
        return config.severity_map[name]
    raise ValueError(
        f"incident.io incident {incident.get('id')}: field 'severity' {name!r} is not in severity_map "
        f"({', '.join(config.severity_map) or 'empty'}); map it in [connectors.{source}] severity_map"
    )


def incident_record(incident: Mapping[str, Any], config: IncidentIoConfig, source: str) -> Incident:
    """The Incident: milestones from the configured timestamps (detected falls back to created_at)."""
    iid = str(incident.get("id") or "")
    if not iid:
        raise ValueError("incident.io incident without field 'id'")
    stamps = timestamp_values(incident)
    milestones = {
        key: next((stamps[n] for n in names if n in stamps), None) for key, names in config.milestones.items()
    }
    if milestones.get("detected_at") is None:
        created = incident.get("created_at")
        milestones["detected_at"] = require_time(created, f"incident.io incident {iid} field 'created_at'")
    status = incident.get("incident_status") if isinstance(incident.get("incident_status"), Mapping) else {}
    category = str(status.get("category") or "")
    leads = [
        _name(a.get("assignee"))
        for a in incident.get("incident_role_assignments") or []
        if (a.get("role") or {}).get("role_type") == "lead" and _name(a.get("assignee"))
    ]
    return Incident(
        id=iid,
        title=str(incident.get("name") or ""),
        severity=severity_of(incident, config, source),
        status="resolved" if category in RESOLVED_CATEGORIES else category,
        services=field_values(incident, config.services_field) if config.services_field else [],
        commander=leads[0] if leads else None,
        summary=str(incident.get("summary") or ""),
        source=source,
        url=incident.get("permalink"),
        reference=incident.get("reference"),
        vendor_status=status.get("name"),
        **milestones,
    )


def _actor(updater: Any) -> str | None:
    """Who posted an update: a user, an API key or a workflow."""
    if not isinstance(updater, Mapping):
        return None
    return next((n for n in (_name(updater.get(k)) for k in ("user", "api_key", "workflow")) if n), None)


def update_messages(updates: list[Mapping[str, Any]], channel: str, incident_id: str) -> list[ChatMessage]:
    """One ChatMessage per incident update: the status and severity it set, then its message."""
    messages = []
    for u in updates:
        changes = [
            f"{label} -> {_name(u.get(key))}"
            for label, key in (("status", "new_incident_status"), ("severity", "new_severity"))
            if _name(u.get(key))
        ]
        text = "; ".join([*changes, *([u["message"]] if u.get("message") else [])])
        where = f"incident.io incident {incident_id} update {u.get('id')} field 'created_at'"
        messages.append(
            ChatMessage(
                ts=require_time(u.get("created_at"), where),
                channel=channel,
                user=_actor(u.get("updater")),
                text=text,
                kind="update",
                id=u.get("id"),
            )
        )
    return messages


def follow_up_actions(follow_ups: list[Mapping[str, Any]]) -> list[Action]:
    """One Action per follow-up: title, description, owner (assignee), status and tracker link kept."""
    actions = []
    for f in follow_ups:
        assignee = f.get("assignee") if isinstance(f.get("assignee"), Mapping) else {}
        issue = (
            f.get("external_issue_reference")
            if isinstance(f.get("external_issue_reference"), Mapping)
            else {}
        )
        where = f"incident.io follow-up {f.get('id')} field 'completed_at'"
        done = parse_time(f.get("completed_at"), where)
        actions.append(
            Action(
                title=str(f.get("title") or f"follow-up {f.get('id')}"),
                description=f.get("description"),
                owner=assignee.get("name") or assignee.get("email"),
                id=f.get("id"),
                status=f.get("status"),
                priority=_name(f.get("priority")),
                url=issue.get("issue_permalink"),
                completed_at=done,
            )
        )
    return actions


def next_after(body: Any) -> str | None:
    """The cursor of the next page (`pagination_meta.after`), None on the last page."""
    meta = body.get("pagination_meta") if isinstance(body, Mapping) else None
    return (meta.get("after") or None) if isinstance(meta, Mapping) else None


# ---------------------------------------------------------------- connector


class IncidentIoConnector:
    """incident.io incidents (capability `incident`), their updates and follow-ups (`incident_evidence`)."""

    def __init__(self, config: IncidentIoConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(name, auth=BearerAuth(config.token))

    def __repr__(self) -> str:
        return f"IncidentIoConnector(name={self.name!r}, client={self.client!r})"

    def fetch_incident(self, incident_id: str) -> Incident:
        """The incident as incident.io knows it now."""
        body, raw = self.client.get_json(f"/v2/incidents/{incident_id}")
        return incident_record(object_at(body, "incident", raw), self.config, self.name)

    def _pages(
        self, path: str, key: str, params: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[RawPayload]]:
        items: list[dict[str, Any]] = []
        raw: list[RawPayload] = []
        for body, payload in self.client.paginate_cursor(path, params, "after", next_after):
            items.extend(list_at(body, key, payload))
            raw.append(payload)
        return items, raw

    def fetch_incident_evidence(self, incident_id: str) -> list[Collected]:
        """Updates as `chat` messages (channel `<name>:updates`) and follow-ups as `actions`."""
        updates, updates_raw = self._pages(
            "/v2/incident_updates",
            "incident_updates",
            {"incident_id": incident_id, "page_size": self.config.page_size},
        )
        follow_ups, follow_ups_raw = self._pages("/v2/follow_ups", "follow_ups", {"incident_id": incident_id})
        messages = sorted(update_messages(updates, f"{self.name}:updates", incident_id), key=lambda m: m.ts)
        return [
            Collected("chat", messages, updates_raw),
            Collected("actions", follow_up_actions(follow_ups), follow_ups_raw),
        ]


CONNECTOR = ConnectorType(
    type="incidentio",
    config=IncidentIoConfig,
    factory=IncidentIoConnector,
    capabilities=("incident", "incident_evidence"),
    summary="incident.io v2: incidents (timestamps as milestones), updates as chat, follow-ups as actions",
)
