"""PagerDuty and incident.io answers in the shapes of their API references, served by a FakeServer.

The incident, log entry, note, incident update and follow-up objects follow the examples of the
vendors' documentation (PagerDuty REST API v2 "Get an incident", "List log entries for an incident",
"List notes for an incident"; incident.io API v2 "Show incident", "List incident updates",
"List follow-ups"), with the list endpoints paginated the way each API documents it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from tests.connectors.fakeserver import FakeServer, Recorded, Reply


def utc(text: str) -> datetime:
    """A vendor timestamp (`...Z` or with an offset) as aware UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ---------------------------------------------------------------- PagerDuty

PD_ID = "PT4KHLK"


def _ref(kind: str, rid: str, summary: str, path: str) -> dict[str, Any]:
    return {
        "id": rid,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"https://api.pagerduty.com/{path}/{rid}",
        "html_url": f"https://subdomain.pagerduty.com/{path}/{rid}",
    }


PD_SERVICE = _ref("service", "PIJ90N7", "My Mail Service", "services")
PD_EARLINE = _ref("user", "PXPGF42", "Earline Greenholt", "users")
PD_BRYCE = _ref("user", "PAM4FGS", "Bryce Rempel", "users")

PD_INCIDENT: dict[str, Any] = {
    "id": PD_ID,
    "type": "incident",
    "summary": "[#1234] The server is on fire.",
    "self": f"https://api.pagerduty.com/incidents/{PD_ID}",
    "html_url": f"https://subdomain.pagerduty.com/incidents/{PD_ID}",
    "incident_number": 1234,
    "title": "The server is on fire.",
    "created_at": "2015-10-06T21:30:42Z",
    "updated_at": "2015-10-06T21:40:23Z",
    "status": "resolved",
    "incident_key": "baf7cf21b1da41b4b0221008339ff357",
    "service": PD_SERVICE,
    "assignments": [],
    "assigned_via": "escalation_policy",
    "last_status_change_at": "2015-10-06T21:38:23Z",
    "resolved_at": "2015-10-06T21:38:23Z",
    "first_trigger_log_entry": {
        "id": "Q02JTSNZWHSEKV",
        "type": "trigger_log_entry_reference",
        "summary": "Triggered through the API",
        "self": f"https://api.pagerduty.com/log_entries/Q02JTSNZWHSEKV?incident_id={PD_ID}",
        "html_url": f"https://subdomain.pagerduty.com/incidents/{PD_ID}/log_entries/Q02JTSNZWHSEKV",
    },
    "alert_counts": {"all": 2, "triggered": 0, "resolved": 2},
    "is_mergeable": True,
    "escalation_policy": _ref(
        "escalation_policy", "PT20YPA", "Another Escalation Policy", "escalation_policies"
    ),
    "teams": [_ref("team", "PQ9K7I8", "Engineering", "teams")],
    "pending_actions": [],
    "acknowledgements": [],
    "alert_grouping": None,
    "last_status_change_by": PD_EARLINE,
    "priority": {**_ref("priority", "P53ZZH5", "P2", "priorities"), "name": "P2"},
    "resolve_reason": None,
    "conference_bridge": {
        "conference_number": "+1-415-555-1212,,,,1234#",
        "conference_url": "https://example.com/acb-123",
    },
    "incidents_responders": [],
    "responder_requests": [],
    "subscriber_requests": [],
    "urgency": "high",
}


def _log_entry(
    lid: str, kind: str, summary: str, at: str, agent: dict[str, Any], channel: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": lid,
        "type": kind,
        "summary": summary,
        "self": f"https://api.pagerduty.com/log_entries/{lid}",
        "html_url": f"https://subdomain.pagerduty.com/incidents/{PD_ID}/log_entries/{lid}",
        "created_at": at,
        "agent": agent,
        "channel": channel,
        "service": PD_SERVICE,
        "incident": _ref("incident", PD_ID, "[#1234] The server is on fire.", "incidents"),
        "teams": [],
        "contexts": [],
        "event_details": {"description": "The server is on fire."},
    }


# newest first, as PagerDuty lists them; two acknowledgements (the first one counts) and one resolve
PD_LOG_ENTRIES: list[dict[str, Any]] = [
    _log_entry(
        "R5",
        "resolve_log_entry",
        "Resolved by Earline Greenholt",
        "2015-10-06T21:38:23Z",
        PD_EARLINE,
        {"type": "web_trigger"},
    ),
    _log_entry(
        "R4",
        "annotate_log_entry",
        "Note added",
        "2015-10-06T21:35:00Z",
        PD_EARLINE,
        {"type": "note", "summary": "Firefighters are on the scene."},
    ),
    _log_entry(
        "R3",
        "acknowledge_log_entry",
        "Acknowledged by Bryce Rempel",
        "2015-10-06T21:36:10Z",
        PD_BRYCE,
        {"type": "website"},
    ),
    _log_entry(
        "R2",
        "acknowledge_log_entry",
        "Acknowledged by Earline Greenholt",
        "2015-10-06T21:33:05Z",
        PD_EARLINE,
        {"type": "phone"},
    ),
    _log_entry(
        "R1",
        "notify_log_entry",
        "Notified Earline Greenholt by phone",
        "2015-10-06T21:30:50Z",
        PD_SERVICE,
        {"type": "auto"},
    ),
    _log_entry(
        "R0",
        "trigger_log_entry",
        "Triggered through the API",
        "2015-10-06T21:30:42Z",
        PD_SERVICE,
        {"type": "api", "summary": "The server is on fire.", "details": {"cause": "disk"}},
    ),
]

PD_NOTES: list[dict[str, Any]] = [
    {
        "id": "PWL7QXS",
        "user": PD_EARLINE,
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": "Firefighters are on the scene.",
        "created_at": "2015-10-06T16:35:00-05:00",
    }
]

PD_CUSTOM_FIELDS: list[dict[str, Any]] = [
    {
        "id": "PT4KHEE",
        "type": "field_value",
        "name": "impact_started",
        "display_name": "Impact started",
        "data_type": "datetime",
        "field_type": "single_value",
        "description": "When customers were first affected",
        "value": "2015-10-06T21:12:00Z",
    },
    {
        "id": "PT4KHEF",
        "type": "field_value",
        "name": "environment",
        "display_name": "Environment",
        "data_type": "string",
        "field_type": "single_value_fixed",
        "description": None,
        "value": "production",
    },
]


def pd_log_page(entries: list[dict[str, Any]]) -> Any:
    """A handler answering `offset`/`limit` pages of `entries` with PagerDuty's `more` flag."""

    def handle(request: Recorded) -> Reply:
        offset = int(request.arg("offset", "0") or 0)
        limit = int(request.arg("limit", "25") or 25)
        page = entries[offset : offset + limit]
        more = offset + limit < len(entries)
        body = {"log_entries": page, "limit": limit, "offset": offset, "more": more, "total": None}
        return Reply(json=body)

    return handle


def script_pagerduty(
    server: FakeServer,
    incident: dict[str, Any] | None = None,
    entries: list[dict[str, Any]] | None = None,
    notes: list[dict[str, Any]] | None = None,
    custom_fields: list[dict[str, Any]] | None = None,
) -> None:
    """Serve one PagerDuty incident with its log entries, notes and custom field values."""
    inc = copy.deepcopy(incident if incident is not None else PD_INCIDENT)
    iid = inc["id"]
    server.route("GET", f"/incidents/{iid}", Reply(json={"incident": inc}))
    server.route(
        "GET",
        f"/incidents/{iid}/log_entries",
        pd_log_page(entries if entries is not None else PD_LOG_ENTRIES),
    )
    server.route(
        "GET", f"/incidents/{iid}/notes", Reply(json={"notes": notes if notes is not None else PD_NOTES})
    )
    fields = custom_fields if custom_fields is not None else PD_CUSTOM_FIELDS
    server.route("GET", f"/incidents/{iid}/custom_fields/values", Reply(json={"custom_fields": fields}))


# ---------------------------------------------------------------- incident.io

IO_ID = "01FDAG4SAP5TYPT98WGR2N7W91"
IO_LISA = {
    "email": "lisa@incident.io",
    "id": "01FCNDV6P870EA6S7TK1DSYDG0",
    "name": "Lisa Karlin Curtis",
    "role": "viewer",
    "slack_user_id": "U02AYNF2XJM",
}


def _io_status(name: str, category: str, rank: int) -> dict[str, Any]:
    return {
        "category": category,
        "created_at": "2021-08-17T13:28:57.801578Z",
        "description": f"Status {name}",
        "id": f"01FCNDV6P870EA6S7TK1DSYD{rank:02d}",
        "name": name,
        "rank": rank,
        "updated_at": "2021-08-17T13:28:57.801578Z",
    }


def _io_severity(name: str, rank: int) -> dict[str, Any]:
    return {
        "created_at": "2021-08-17T13:28:57.801578Z",
        "description": f"Issues with **{name.lower()} impact**.",
        "id": f"01FCNDV6P870EA6S7TK1DSY{rank:03d}",
        "name": name,
        "rank": rank,
        "updated_at": "2021-08-17T13:28:57.801578Z",
    }


def _io_timestamp(name: str, rank: int, value: str | None) -> dict[str, Any]:
    return {
        "incident_timestamp": {"id": f"01FCNDV6P870EA6S7TK1DSYT{rank:02d}", "name": name, "rank": rank},
        "value": {"value": value} if value is not None else None,
    }


IO_INCIDENT: dict[str, Any] = {
    "call_url": "https://zoom.us/foo",
    "created_at": "2021-08-17T13:28:57.801578Z",
    "creator": {"user": IO_LISA},
    "custom_field_entries": [
        {
            "custom_field": {
                "description": "Which services are affected",
                "field_type": "multi_select",
                "id": "01FCNDV6P870EA6S7TK1DSYDG1",
                "name": "Affected services",
                "options": [],
            },
            "values": [
                {
                    "value_catalog_entry": {
                        "id": "01FCNDV6P870EA6S7TK1DSYDC1",
                        "name": "checkout",
                        "aliases": [],
                    }
                },
                {"value_option": {"id": "01FCNDV6P870EA6S7TK1DSYDO1", "sort_key": 10, "value": "payments"}},
            ],
        },
        {
            "custom_field": {
                "description": "Which team is impacted by this issue",
                "field_type": "single_select",
                "id": "01FCNDV6P870EA6S7TK1DSYDG0",
                "name": "Affected Team",
                "options": [],
            },
            "values": [
                {"value_option": {"id": "01FCNDV6P870EA6S7TK1DSYDG0", "sort_key": 10, "value": "Product"}}
            ],
        },
    ],
    "duration_metrics": [
        {"duration_metric": {"id": "01FCNDV6P870EA6S7TK1DSYD5H", "name": "Lasted"}, "value_seconds": 10800}
    ],
    "external_issue_reference": None,
    "has_debrief": False,
    "id": IO_ID,
    "incident_role_assignments": [
        {
            "assignee": IO_LISA,
            "role": {
                "created_at": "2021-08-17T13:28:57.801578Z",
                "description": "The person currently coordinating the incident",
                "id": "01FCNDV6P870EA6S7TK1DSYDG0",
                "instructions": "Take point on the incident; Make sure people are clear on responsibilities",
                "name": "Incident Lead",
                "required": False,
                "role_type": "lead",
                "shortform": "lead",
                "updated_at": "2021-08-17T13:28:57.801578Z",
            },
        }
    ],
    "incident_status": _io_status("Closed", "closed", 4),
    "incident_timestamp_values": [
        _io_timestamp("Impact started", 1, "2021-08-17T13:10:00Z"),
        _io_timestamp("Reported at", 2, "2021-08-17T13:28:57.801578Z"),
        _io_timestamp("Accepted at", 3, "2021-08-17T13:31:00+01:00"),
        _io_timestamp("Fixed at", 4, "2021-08-17T14:05:00Z"),
        _io_timestamp("Resolved at", 5, "2021-08-17T14:20:00Z"),
        _io_timestamp("Declined at", 6, None),
    ],
    "incident_type": {"id": "01FCNDV6P870EA6S7TK1DSYDG0", "name": "Production Outage", "is_default": False},
    "mode": "standard",
    "name": "Our database is sad",
    "permalink": "https://app.incident.io/incidents/123",
    "postmortem_document_url": "https://docs.google.com/my_doc_id",
    "reference": "INC-123",
    "severity": _io_severity("Major", 2),
    "slack_channel_id": "C02AW36C1M5",
    "slack_channel_name": "inc-165-green-parrot",
    "slack_team_id": "T02A1FSLE8J",
    "summary": "Our database is really really sad, and we don't know why yet.",
    "updated_at": "2021-08-17T14:28:57.801578Z",
    "visibility": "public",
    "workload_minutes_late": 40.7,
    "workload_minutes_sleeping": 0,
    "workload_minutes_total": 60.7,
    "workload_minutes_working": 20,
}


def _io_update(uid: str, at: str, message: str | None, status: dict | None, severity: dict | None) -> dict:
    return {
        "created_at": at,
        "id": uid,
        "incident_id": IO_ID,
        "message": message,
        "new_incident_status": status,
        "new_severity": severity,
        "updater": {"api_key": None, "user": IO_LISA},
    }


IO_UPDATES: list[dict[str, Any]] = [
    _io_update(
        "01FCQSP07Z74QMMYPDDGQB9FTG",
        "2021-08-17T13:30:00Z",
        "We're seeing errors on checkout",
        _io_status("Investigating", "live", 1),
        _io_severity("Minor", 1),
    ),
    _io_update(
        "01FCQSP07Z74QMMYPDDGQB9FTH",
        "2021-08-17T13:45:00Z",
        "Database failover started",
        None,
        _io_severity("Major", 2),
    ),
    _io_update(
        "01FCQSP07Z74QMMYPDDGQB9FTI",
        "2021-08-17T14:05:00Z",
        "Failover complete, error rate back to normal",
        _io_status("Monitoring", "live", 2),
        None,
    ),
    _io_update(
        "01FCQSP07Z74QMMYPDDGQB9FTJ", "2021-08-17T14:20:00Z", None, _io_status("Closed", "closed", 4), None
    ),
    {
        **_io_update(
            "01FCQSP07Z74QMMYPDDGQB9FTK", "2021-08-17T14:21:00Z", "Handing over to the workflow", None, None
        ),
        "updater": {"api_key": {"id": "01FCNDV6P870EA6S7TK1DSYDG0", "name": "My test API key"}},
    },
]

IO_FOLLOW_UPS: list[dict[str, Any]] = [
    {
        "assignee": IO_LISA,
        "completed_at": None,
        "created_at": "2021-08-17T14:30:00Z",
        "description": "Alert when replication lag exceeds 30 s so failover starts before errors do.",
        "external_issue_reference": {
            "issue_name": "INC-1609",
            "issue_permalink": "https://linear.app/incident-io/issue/INC-1609/replication-lag-alert",
            "provider": "linear",
        },
        "id": "01FCQSP07Z74QMMYPDDGQB9FTG",
        "incident_id": IO_ID,
        "priority": {
            "description": "Do it this sprint",
            "id": "01HDGG56RYNRCX47016KWQJMNY",
            "name": "High",
            "rank": 1,
        },
        "status": "outstanding",
        "title": "Alert on database replication lag",
        "updated_at": "2021-08-17T14:30:00Z",
    },
    {
        "assignee": None,
        "category": None,
        "completed_at": "2021-08-20T09:00:00Z",
        "created_at": "2021-08-17T14:31:00Z",
        "description": "Something followups based goes here.",
        "external_issue_reference": None,
        "id": "01HDH3V6Z5XWT7CTHP13BKNHFE",
        "incident_id": IO_ID,
        "priority": None,
        "status": "completed",
        "title": "Write the failover runbook",
        "updated_at": "2021-08-20T09:00:00Z",
    },
]


def io_updates_page(updates: list[dict[str, Any]]) -> Any:
    """A handler answering `page_size`/`after` cursor pages with `pagination_meta.after`."""

    def handle(request: Recorded) -> Reply:
        size = int(request.arg("page_size", "25") or 25)
        after = request.arg("after")
        start = next((i + 1 for i, u in enumerate(updates) if u["id"] == after), 0) if after else 0
        page = updates[start : start + size]
        meta: dict[str, Any] = {"page_size": size}
        if start + size < len(updates):
            meta["after"] = page[-1]["id"]
        return Reply(json={"incident_updates": page, "pagination_meta": meta})

    return handle


def script_incidentio(
    server: FakeServer,
    incident: dict[str, Any] | None = None,
    updates: list[dict[str, Any]] | None = None,
    follow_ups: list[dict[str, Any]] | None = None,
) -> None:
    """Serve one incident.io incident with its updates and follow-ups."""
    inc = copy.deepcopy(incident if incident is not None else IO_INCIDENT)
    server.route("GET", f"/v2/incidents/{inc['id']}", Reply(json={"incident": inc}))
    server.route(
        "GET", "/v2/incident_updates", io_updates_page(updates if updates is not None else IO_UPDATES)
    )
    server.route(
        "GET",
        "/v2/follow_ups",
        Reply(json={"follow_ups": follow_ups if follow_ups is not None else IO_FOLLOW_UPS}),
    )
