"""Webhook bodies and headers as the vendors document and sign them (shared by tests, e2e and bench).

PagerDuty v3: developer.pagerduty.com, "Webhooks v3 overview" (payload) and "Verifying signatures".
incident.io: api-docs.incident.io "Webhooks" (Svix / Standard Webhooks headers) and the
`public_incident.incident_status_updated_v2` event (`incident`, `new_status`, `previous_status`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from postmortem.webhook.verify import sign_generic, sign_pagerduty

PAGERDUTY_SECRET = "pd-secret-ChAVtWDkkHFnZKuQ"
PAGERDUTY_NEXT_SECRET = "pd-secret-rotated-9oCw2s7Lhn"
INCIDENTIO_SECRET = "whsec_" + base64.b64encode(b"incident.io signing key, 32 byte").decode()
INCIDENTIO_NEXT_SECRET = "whsec_" + base64.b64encode(b"the next incident.io signing key").decode()
GENERIC_SECRET = "generic-secret-0f9a7c1d"


def pagerduty_event(
    event_type: str = "incident.resolved", incident_id: str = "PGR0VU2", event_id: str | None = None
) -> dict[str, Any]:
    """A v3 webhook body shaped as the documented example (one event, `data` an incident)."""
    return {
        "event": {
            "id": event_id or f"01{uuid.uuid4().hex[:24].upper()}",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV",
                "summary": "Tenex Engineer",
                "type": "user_reference",
            },
            "client": {"name": "PagerDuty"},
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                "number": 2,
                "status": "resolved" if event_type == "incident.resolved" else "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2020-04-09T15:16:27Z",
                "title": "A little bump in the road",
                "service": {
                    "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                    "id": "PF9KMXH",
                    "self": "https://api.pagerduty.com/services/PF9KMXH",
                    "summary": "API Service",
                    "type": "service_reference",
                },
                "assignees": [],
                "escalation_policy": {
                    "html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
                    "id": "PUS0KTE",
                    "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
                    "summary": "Default",
                    "type": "escalation_policy_reference",
                },
                "teams": [],
                "priority": None,
                "urgency": "high",
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }


def pagerduty_request(
    document: dict[str, Any], secrets: tuple[str, ...] = (PAGERDUTY_SECRET,)
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a PagerDuty delivery (one v1 signature per signing secret)."""
    body = json.dumps(document).encode()
    return body, {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-Webhook-Id": str(uuid.uuid5(uuid.NAMESPACE_OID, body.decode())),
        "X-Webhook-Subscription": "PY1OWFL",
        "X-PagerDuty-Signature": sign_pagerduty(body, list(secrets)),
    }


def _status(category: str, name: str, rank: int) -> dict[str, Any]:
    return {
        "category": category,
        "created_at": "2021-08-17T13:28:57.801578Z",
        "description": f"The {name} status",
        "id": f"01FCNDV6P870EA6S7TK1DS{rank:04d}",
        "name": name,
        "rank": rank,
        "updated_at": "2021-08-17T13:28:57.801578Z",
    }


STATUSES = {
    "triage": _status("triage", "Triage", 0),
    "live": _status("live", "Investigating", 1),
    "learning": _status("learning", "Post-incident", 3),
    "closed": _status("closed", "Closed", 4),
    "declined": _status("declined", "Declined", 5),
}


def incidentio_status_updated(
    previous: str = "live", new: str = "closed", incident_id: str = "01FDAG4SAP5TYPT98WGR2N7W91"
) -> dict[str, Any]:
    """A `public_incident.incident_status_updated_v2` body."""
    event_type = "public_incident.incident_status_updated_v2"
    return {
        "event_type": event_type,
        event_type: {
            "incident": {
                "id": incident_id,
                "reference": "INC-123",
                "name": "Our database is sad",
                "incident_status": STATUSES[new],
                "mode": "standard",
                "visibility": "public",
                "created_at": "2021-08-17T13:28:57.801578Z",
                "updated_at": "2021-08-17T14:28:57.801578Z",
                "permalink": "https://app.incident.io/incidents/123",
                "summary": "Our database is really really sad, and we don't know why yet.",
            },
            "new_status": STATUSES[new],
            "previous_status": STATUSES[previous],
        },
    }


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` of a Standard Webhooks (Svix) secret over "{id}.{timestamp}.{body}"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def incidentio_request(
    document: dict[str, Any],
    secrets: tuple[str, ...] = (INCIDENTIO_SECRET,),
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and the three Svix headers of an incident.io delivery."""
    body = json.dumps(document).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    return body, {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(standard_signature(s, msg_id, ts, body) for s in secrets),
    }


def generic_request(
    document: dict[str, Any], secret: str = GENERIC_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a generic signed delivery."""
    body = json.dumps(document).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    return body, {
        "Content-Type": "application/json",
        "X-Postmortem-Timestamp": str(ts),
        "X-Postmortem-Signature": sign_generic(body, ts, secret),
    }
