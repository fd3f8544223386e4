"""incident.io connector against a local server answering with the v2 API's documented payloads."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import Window, capabilities_of, fetch_evidence
from connectors.bundle import load_bundle, write_bundle
from connectors.config import ConfigError, connector_config
from connectors.http_errors import HttpError, PayloadError
from connectors.incident_ref import is_resolved
from connectors.incidentio import CONNECTOR, IncidentIoConfig, IncidentIoConnector
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.incident_vendors import (
    IO_FOLLOW_UPS,
    IO_ID,
    IO_INCIDENT,
    IO_UPDATES,
    script_incidentio,
    utc,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "incidentio.md"
TOKEN = "inc_live_7a4b3c2d1e"


def _connector(url: str, token: str = TOKEN, **options) -> IncidentIoConnector:
    config = IncidentIoConfig(url=url, token=SecretStr(token), backoff=0, retries=3, max_wait=5, **options)
    return CONNECTOR.create(config, "incidentio")


def test_incident_milestones_severity_services_and_lead(server: FakeServer) -> None:
    script_incidentio(server)
    incident = _connector(server.url).fetch_incident(IO_ID)

    assert incident.id == IO_ID and incident.title == "Our database is sad"
    assert incident.severity == "SEV2"  # "Major" in the default map
    assert incident.status == "resolved" and incident.vendor_status == "Closed" and is_resolved(incident)
    assert incident.started_at == utc("2021-08-17T13:10:00Z")
    assert incident.detected_at == utc("2021-08-17T13:28:57.801578Z")
    assert incident.acknowledged_at == utc("2021-08-17T12:31:00Z")  # +01:00 converted to UTC
    assert incident.mitigated_at == utc("2021-08-17T14:05:00Z")  # "Fixed at"
    assert incident.resolved_at == utc("2021-08-17T14:20:00Z")
    assert incident.services == ["checkout", "payments"]
    assert incident.commander == "Lisa Karlin Curtis"
    assert incident.reference == "INC-123" and incident.source == "incidentio"
    request = server.requests_to(f"/v2/incidents/{IO_ID}")[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_configured_maps_and_fallbacks(server: FakeServer) -> None:
    bare = copy.deepcopy(IO_INCIDENT)
    bare["incident_timestamp_values"] = []
    bare["severity"]["name"] = "Sev 1"
    script_incidentio(server, incident=bare)
    connector = _connector(
        server.url,
        severity_map={"Sev 1": "SEV1"},
        milestones={"started_at": ["Customer impact began"]},
        services_field="Affected Team",
    )
    assert connector.config.milestones["resolved_at"] == ["Resolved at", "Closed at"]  # defaults kept
    incident = connector.fetch_incident(IO_ID)
    assert incident.severity == "SEV1" and incident.services == ["Product"]
    assert incident.detected_at == utc(IO_INCIDENT["created_at"])  # no "Reported at": created_at
    assert incident.started_at is None and incident.resolved_at is None

    with pytest.raises(
        ValueError, match=r"field 'severity' 'Sev 1' is not in severity_map .*\[connectors\.incidentio\]"
    ):
        _connector(server.url).fetch_incident(IO_ID)


@pytest.mark.parametrize(
    ("category", "resolved"),
    [("live", False), ("triage", False), ("declined", False), ("learning", True), ("closed", True)],
)
def test_resolution_follows_the_status_category(server: FakeServer, category: str, resolved: bool) -> None:
    incident = copy.deepcopy(IO_INCIDENT)
    incident["incident_status"]["category"] = category
    script_incidentio(server, incident=incident)
    assert is_resolved(_connector(server.url).fetch_incident(IO_ID)) is resolved


def test_updates_become_chat_and_follow_ups_become_actions(server: FakeServer, tmp_path: Path) -> None:
    script_incidentio(server)
    connector = _connector(server.url, page_size=2)
    chat, actions = fetch_evidence(connector, IO_ID)

    pages = server.requests_to("/v2/incident_updates")
    assert [r.arg("after") for r in pages] == [None, IO_UPDATES[1]["id"], IO_UPDATES[3]["id"]]
    assert all(r.arg("incident_id") == IO_ID and r.arg("page_size") == "2" for r in pages)
    assert chat.dataset == "chat" and len(chat.records) == len(IO_UPDATES)
    first = chat.records[0]
    assert first.text == "status -> Investigating; severity -> Minor; We're seeing errors on checkout"
    assert first.user == "Lisa Karlin Curtis" and first.channel == "incidentio:updates"
    assert chat.records[-1].user == "My test API key"
    assert len(chat.raw) == 3

    assert actions.dataset == "actions" and [a.title for a in actions.records] == [
        "Alert on database replication lag",
        "Write the failover runbook",
    ]
    lag = actions.records[0]
    assert lag.owner == "Lisa Karlin Curtis" and lag.status == "outstanding" and lag.priority == "High"
    assert lag.url == IO_FOLLOW_UPS[0]["external_issue_reference"]["issue_permalink"]
    assert actions.records[1].owner is None and actions.records[1].status == "completed"
    assert actions.records[1].completed_at == utc("2021-08-20T09:00:00Z") and lag.completed_at is None
    assert server.requests_to("/v2/follow_ups")[0].arg("incident_id") == IO_ID

    incident = connector.fetch_incident(IO_ID)
    write_bundle(
        tmp_path / "b",
        incident.model_dump(mode="json"),
        {"chat": [m.model_dump(mode="json") for m in chat.records]},
        actions=[a.model_dump(mode="json") for a in actions.records],
    )
    bundle = load_bundle(tmp_path / "b")
    assert [a.title for a in bundle.actions] == [a.title for a in actions.records]
    assert len(bundle.frames["chat"]) == len(IO_UPDATES)


def test_a_malformed_update_page_names_the_url(server: FakeServer) -> None:
    script_incidentio(server)
    server.inject("GET", "/v2/incident_updates", Reply(json={"updates": []}))
    with pytest.raises(PayloadError, match=r"/v2/incident_updates.*a list 'incident_updates'"):
        fetch_evidence(_connector(server.url), IO_ID)


@pytest.mark.parametrize(
    ("reply", "error", "pattern", "calls"),
    [
        (
            Reply(429, headers={"Retry-After": "1"}, json={"type": "too_many_requests", "status": 429}),
            None,
            "",
            2,
        ),
        (Reply(500, json={"type": "internal_error", "status": 500}), None, "", 2),
        (Reply(401, json={"type": "authentication_error", "status": 401}), HttpError, "HTTP 401", 1),
        (Reply(404, json={"type": "not_found", "status": 404, "errors": []}), HttpError, "HTTP 404", 1),
        (Reply(200, body='{"incident": {"id": '), PayloadError, "not valid JSON", 1),
    ],
    ids=["429", "500", "401", "404", "malformed"],
)
def test_fetch_incident_faults(server: FakeServer, reply, error, pattern, calls) -> None:
    script_incidentio(server)
    server.inject("GET", f"/v2/incidents/{IO_ID}", reply)
    connector = _connector(server.url, token="io-secret-token-0042")
    if error is None:
        assert connector.fetch_incident(IO_ID).id == IO_ID
    else:
        with pytest.raises(error, match=pattern) as caught:
            connector.fetch_incident(IO_ID)
        assert "io-secret-token-0042" not in str(caught.value)
    assert len(server.requests_to(f"/v2/incidents/{IO_ID}")) == calls


def test_registered_with_its_capabilities_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"token": {"env": SECRET_ENV}}, monkeypatch)
    monkeypatch.setenv(SECRET_ENV, "x" * 12)
    connector = connector_config("io", {"type": "incidentio", "token": {"env": SECRET_ENV}}).build()
    assert capabilities_of(connector) == ["incident", "incident_evidence"]
    unknown_milestone = r"field 'milestones.detected.\[key\]': Input should be 'started_at'"
    with pytest.raises(ConfigError, match=unknown_milestone):
        connector_config(
            "io", {"type": "incidentio", "token": {"env": SECRET_ENV}, "milestones": {"detected": []}}
        )
    with pytest.raises(ConfigError, match=r"field 'severity_map.Critical'"):
        connector_config(
            "io", {"type": "incidentio", "token": {"env": SECRET_ENV}, "severity_map": {"Critical": "P1"}}
        )


def test_docs_describe_every_config_field() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)`", DOCS.read_text(), flags=re.M))
    own = set(IncidentIoConfig.model_fields) - {
        "connect_timeout",
        "read_timeout",
        "retries",
        "backoff",
        "max_wait",
        "max_pages",
        "verify_tls",
        "headers",
    }
    assert own <= documented


CASE = ConnectorCase(
    capability="chat",
    build=lambda url, secret: _connector(url, token=secret, page_size=3),
    script=script_incidentio,
    endpoint="/v2/incident_updates",
    window=Window(datetime(2021, 8, 17, tzinfo=UTC), datetime(2021, 8, 18, tzinfo=UTC)),
    pages=2,
    min_records=len(IO_UPDATES),
    incident_id=IO_ID,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)
