"""PagerDuty connector against a local server answering with the REST API v2's documented payloads."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import Window, capabilities_of, fetch_evidence
from connectors.bundle import load_bundle, write_bundle
from connectors.config import connector_config
from connectors.http_errors import HttpError, PayloadError
from connectors.incident_ref import is_resolved
from connectors.pagerduty import CONNECTOR, PagerDutyConfig, PagerDutyConnector
from tasks.timeline import build_timeline
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.incident_vendors import (
    PD_CUSTOM_FIELDS,
    PD_ID,
    PD_INCIDENT,
    PD_LOG_ENTRIES,
    PD_NOTES,
    script_pagerduty,
    utc,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "pagerduty.md"
TOKEN = "y_NbAkKc66ryYTWUXYEu"


def _connector(url: str, token: str = TOKEN, **options) -> PagerDutyConnector:
    config = PagerDutyConfig(url=url, token=SecretStr(token), backoff=0, retries=3, max_wait=5, **options)
    return CONNECTOR.create(config, "pagerduty")


def test_incident_milestones_come_from_the_record_and_its_paginated_log(server: FakeServer) -> None:
    script_pagerduty(server)
    incident = _connector(server.url, page_size=2).fetch_incident(PD_ID)

    assert incident.id == PD_ID and incident.title == "The server is on fire."
    assert incident.severity == "SEV2"  # priority P2
    assert incident.status == "resolved" and is_resolved(incident)
    assert incident.detected_at == utc(PD_INCIDENT["created_at"])
    assert incident.started_at == incident.detected_at  # no impact-start field configured
    assert incident.acknowledged_at == utc("2015-10-06T21:33:05Z")  # the first of two acknowledgements
    assert incident.resolved_at == utc("2015-10-06T21:38:23Z")
    assert incident.mitigated_at is None
    assert incident.services == ["My Mail Service"] and incident.team == "Engineering"
    assert incident.source == "pagerduty" and incident.reference == "#1234"
    assert incident.url == PD_INCIDENT["html_url"]

    pages = server.requests_to(f"/incidents/{PD_ID}/log_entries")
    assert [(r.arg("offset", "0"), r.arg("limit")) for r in pages] == [("0", "2"), ("2", "2"), ("4", "2")]
    first = server.requests_to(f"/incidents/{PD_ID}")[0]
    assert first.headers["authorization"] == f"Token token={TOKEN}"
    assert first.headers["accept"] == "application/vnd.pagerduty+json;version=2"
    assert not server.requests_to(f"/incidents/{PD_ID}/custom_fields/values")


def test_impact_start_from_a_custom_field(server: FakeServer) -> None:
    script_pagerduty(server)
    by_name = _connector(server.url, started_at_field="impact_started").fetch_incident(PD_ID)
    by_display = _connector(server.url, started_at_field="Impact started").fetch_incident(PD_ID)
    assert by_name.started_at == by_display.started_at == utc(PD_CUSTOM_FIELDS[0]["value"])
    assert by_name.detected_at == utc(PD_INCIDENT["created_at"])

    unset = [{**PD_CUSTOM_FIELDS[0], "value": None}]
    script_pagerduty(server, custom_fields=unset)
    assert _connector(server.url, started_at_field="impact_started").fetch_incident(PD_ID).started_at == (
        utc(PD_INCIDENT["created_at"])
    )

    naive = [{**PD_CUSTOM_FIELDS[0], "value": "2015-10-06 21:12"}]
    script_pagerduty(server, custom_fields=naive)
    with pytest.raises(
        ValueError, match=r"custom field 'impact_started': '2015-10-06 21:12' is not an ISO 8601"
    ):
        _connector(server.url, started_at_field="impact_started").fetch_incident(PD_ID)


def test_an_open_incident_is_not_resolved(server: FakeServer) -> None:
    open_incident = {**copy.deepcopy(PD_INCIDENT), "status": "acknowledged", "resolved_at": None}
    entries = [e for e in PD_LOG_ENTRIES if e["type"] != "resolve_log_entry"]
    script_pagerduty(server, incident=open_incident, entries=entries)
    incident = _connector(server.url).fetch_incident(PD_ID)
    assert incident.status == "acknowledged" and incident.resolved_at is None
    assert not is_resolved(incident)


def test_severity_from_urgency_and_unmapped_values(server: FakeServer) -> None:
    no_priority = {**copy.deepcopy(PD_INCIDENT), "priority": None, "urgency": "low"}
    script_pagerduty(server, incident=no_priority)
    assert _connector(server.url).fetch_incident(PD_ID).severity == "SEV4"
    custom = _connector(server.url, urgency_severity={"low": "SEV5"})
    assert custom.fetch_incident(PD_ID).severity == "SEV5"

    odd = {**copy.deepcopy(PD_INCIDENT), "priority": {"summary": "Sev-Zero"}, "urgency": "urgent"}
    script_pagerduty(server, incident=odd)
    with pytest.raises(
        ValueError, match=r"'priority' \('Sev-Zero'\) nor 'urgency' \('urgent'\).*\[connectors\.pagerduty\]"
    ):
        _connector(server.url).fetch_incident(PD_ID)


def test_log_entries_and_notes_become_the_chat_timeline(server: FakeServer, tmp_path: Path) -> None:
    script_pagerduty(server)
    connector = _connector(server.url, page_size=4)
    incident = connector.fetch_incident(PD_ID)
    (chat,) = fetch_evidence(connector, PD_ID)

    assert chat.dataset == "chat" and len(chat.records) == len(PD_LOG_ENTRIES) + len(PD_NOTES)
    assert [m.ts for m in chat.records] == sorted(m.ts for m in chat.records)
    ack = next(m for m in chat.records if m.id == "R2")
    assert (ack.user, ack.text, ack.kind, ack.channel) == (
        "Earline Greenholt",
        "Acknowledged by Earline Greenholt",
        "acknowledge",
        "pagerduty:log",
    )
    note = next(m for m in chat.records if m.kind == "note")
    assert note.ts == utc("2015-10-06T21:35:00Z") and note.channel == "pagerduty:notes"
    assert note.text == "Firefighters are on the scene."
    assert len(chat.raw) == 3 and all(p.source == "pagerduty" for p in chat.raw)  # two log pages, notes

    write_bundle(
        tmp_path / "b",
        incident.model_dump(mode="json"),
        {"chat": [m.model_dump(mode="json") for m in chat.records]},
    )
    bundle = load_bundle(tmp_path / "b")
    timeline = build_timeline(bundle.incident, bundle.frames, [], [])
    rows = timeline[timeline["source"] == "chat"]
    assert "Earline Greenholt: Firefighters are on the scene." in set(rows["summary"])
    assert "Bryce Rempel: Acknowledged by Bryce Rempel" in set(rows["summary"])
    kinds = set(timeline.loc[timeline["source"] == "incident", "kind"])
    assert kinds == {"started", "detected", "acknowledged", "resolved"}


def test_fetch_incident_retries_rate_limits_and_server_errors(server: FakeServer) -> None:
    script_pagerduty(server)
    server.inject(
        "GET",
        f"/incidents/{PD_ID}",
        Reply(
            429,
            headers={"Retry-After": "1"},
            json={"error": {"message": "Rate Limit Exceeded", "code": 2020}},
        ),
        Reply(500, json={"error": {"message": "Internal Server Error", "code": 2000}}),
    )
    began = datetime.now(UTC)
    assert _connector(server.url).fetch_incident(PD_ID).id == PD_ID
    assert datetime.now(UTC) - began >= timedelta(seconds=0.9)
    assert len(server.requests_to(f"/incidents/{PD_ID}")) == 3


@pytest.mark.parametrize(
    ("reply", "error", "pattern"),
    [
        (Reply(401, json={"error": {"message": "Unauthorized", "code": 2006}}), HttpError, "HTTP 401"),
        (Reply(404, json={"error": {"message": "Not Found", "code": 2100}}), HttpError, "HTTP 404"),
        (Reply(200, body='{"incident": {"id": "PT4'), PayloadError, "not valid JSON"),
        (Reply(200, json={"incidents": []}), PayloadError, "an object 'incident'"),
    ],
    ids=["401", "404", "malformed", "wrong-shape"],
)
def test_fetch_incident_failures_are_clear_and_not_retried(server: FakeServer, reply, error, pattern) -> None:
    script_pagerduty(server)
    server.inject("GET", f"/incidents/{PD_ID}", reply)
    connector = _connector(server.url, token="pd-secret-token-0042")
    with pytest.raises(error, match=pattern) as caught:
        connector.fetch_incident(PD_ID)
    assert f"/incidents/{PD_ID}" in str(caught.value)
    assert "pd-secret-token-0042" not in str(caught.value) + repr(connector)
    assert len(server.requests_to(f"/incidents/{PD_ID}")) == 1


def test_a_bad_log_timestamp_names_the_entry(server: FakeServer) -> None:
    entries = copy.deepcopy(PD_LOG_ENTRIES)
    entries[2]["created_at"] = "2015-10-06T21:36:10"
    script_pagerduty(server, entries=entries)
    with pytest.raises(ValueError, match=r"log entry R3 field 'created_at': '2015-10-06T21:36:10' is not"):
        _connector(server.url).fetch_incident(PD_ID)


def test_registered_with_its_capabilities_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"token": {"env": SECRET_ENV}}, monkeypatch)
    cc = connector_config("pd", {"type": "pagerduty", "token": {"env": SECRET_ENV}})
    connector = cc.build()
    assert capabilities_of(connector) == ["incident", "incident_evidence"]
    assert connector.client.base_url == "https://api.pagerduty.com"


def test_docs_describe_every_config_field() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)`", text, flags=re.M))
    assert (
        set(PagerDutyConfig.model_fields)
        - {
            "connect_timeout",
            "read_timeout",
            "retries",
            "backoff",
            "max_wait",
            "max_pages",
            "verify_tls",
            "headers",
        }
        <= documented
    )


CASE = ConnectorCase(
    capability="chat",
    build=lambda url, secret: _connector(url, token=secret, page_size=4),
    script=script_pagerduty,
    endpoint=f"/incidents/{PD_ID}/log_entries",
    window=Window(datetime(2015, 10, 6, tzinfo=UTC), datetime(2015, 10, 7, tzinfo=UTC)),
    pages=2,
    min_records=len(PD_LOG_ENTRIES) + len(PD_NOTES),
    incident_id=PD_ID,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)
