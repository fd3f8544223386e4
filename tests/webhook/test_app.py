"""The receiver over real HTTP (uvicorn on loopback): every scheme, refusals without side effects, dedupe."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import create_engine, text

from postmortem.webhook.config import WebhookSettings
from postmortem.webhook.deliveries import PENDING
from tests.webhook.conftest import Receiver
from tests.webhook.vendor import (
    GENERIC_SECRET,
    INCIDENTIO_NEXT_SECRET,
    INCIDENTIO_SECRET,
    PAGERDUTY_NEXT_SECRET,
    PAGERDUTY_SECRET,
    generic_request,
    incidentio_request,
    incidentio_status_updated,
    pagerduty_event,
    pagerduty_request,
)

GENERIC_CLOSED = {"id": "chg-881", "incident_id": "OPS-42", "status": "resolved", "source": "opsgenie"}


def closing_request(source: str, **kwargs: object) -> tuple[bytes, dict[str, str]]:
    """A valid closing delivery of one endpoint, signed with its first secret."""
    if source == "pagerduty":
        return pagerduty_request(pagerduty_event(), **kwargs)  # type: ignore[arg-type]
    if source == "incidentio":
        return incidentio_request(incidentio_status_updated(), **kwargs)  # type: ignore[arg-type]
    return generic_request(dict(GENERIC_CLOSED), **kwargs)  # type: ignore[arg-type]


SOURCES = ["pagerduty", "incidentio", "generic"]


def test_a_resolved_pagerduty_incident_is_stored_before_the_202(receiver: Receiver) -> None:
    running = receiver()  # no emitter: what is stored is what the 202 promised
    document = pagerduty_event(incident_id="PXYZ123")
    response = running.post("pagerduty", *pagerduty_request(document))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted"
    assert answer["resource"] == "incident.pagerduty.PXYZ123"
    stored = running.store.get("pagerduty", document["event"]["id"])
    assert stored is not None and stored.status == PENDING
    assert (stored.incident_source, stored.incident_id, stored.event_type) == (
        "pagerduty",
        "PXYZ123",
        "incident.resolved",
    )
    assert str(stored.event_id) == answer["event_id"]
    assert running.http.get("/healthz").json()["deliveries"] == {"pending": 1}


@pytest.mark.parametrize(
    ("source", "expected_resource"),
    [
        ("pagerduty", "incident.pagerduty.PGR0VU2"),
        ("incidentio", "incident.incidentio.01FDAG4SAP5TYPT98WGR2N7W91"),
        ("generic", "incident.opsgenie.OPS-42"),
    ],
)
def test_each_scheme_accepts_its_signed_closing_delivery(
    receiver: Receiver, source: str, expected_resource: str
) -> None:
    running = receiver()
    response = running.post(source, *closing_request(source))
    assert response.status_code == 202, response.text
    assert response.json()["resource"] == expected_resource
    assert running.store.counts() == {"pending": 1}


@pytest.mark.parametrize("source", ["pagerduty", "incidentio"])
def test_a_rotated_secret_is_accepted_alone_or_beside_the_old_one(receiver: Receiver, source: str) -> None:
    running = receiver()
    if source == "pagerduty":
        only_new = pagerduty_request(pagerduty_event(), secrets=(PAGERDUTY_NEXT_SECRET,))
        both = pagerduty_request(pagerduty_event(), secrets=("unknown-old", PAGERDUTY_NEXT_SECRET))
    else:
        only_new = incidentio_request(incidentio_status_updated(), secrets=(INCIDENTIO_NEXT_SECRET,))
        both = incidentio_request(
            incidentio_status_updated(), secrets=(INCIDENTIO_SECRET, INCIDENTIO_NEXT_SECRET)
        )
    assert running.post(source, *only_new).status_code == 202
    assert running.post(source, *both).status_code == 202
    assert running.store.counts() == {"pending": 2}


def test_a_generic_secret_rotation_accepts_old_and_new(receiver: Receiver, settings: WebhookSettings) -> None:
    rotating = settings.model_copy(
        update={"generic_secrets": WebhookSettings(generic_secrets="new-one,old-one").generic_secrets}
    )
    running = receiver(app_settings=rotating)
    first = generic_request({**GENERIC_CLOSED, "id": "a"}, secret="old-one")
    second = generic_request({**GENERIC_CLOSED, "id": "b"}, secret="new-one")
    assert running.post("generic", *first).status_code == 202
    assert running.post("generic", *second).status_code == 202
    assert running.post("generic", *generic_request({**GENERIC_CLOSED, "id": "c"})).status_code == 401


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fault", ["wrong-secret", "tampered-body", "no-signature"])
def test_a_bad_signature_is_401_and_leaves_nothing(receiver: Receiver, source: str, fault: str) -> None:
    running = receiver()
    if fault == "wrong-secret":
        body, headers = (
            pagerduty_request(pagerduty_event(), secrets=("nope",))
            if source == "pagerduty"
            else incidentio_request(incidentio_status_updated(), secrets=("whsec_bm90IHRoZSBrZXk=",))
            if source == "incidentio"
            else generic_request(dict(GENERIC_CLOSED), secret="nope")
        )
    else:
        body, headers = closing_request(source)
        if fault == "tampered-body":
            body = (
                body.replace(b"PGR0VU2", b"PGR0VU3")
                .replace(b"OPS-42", b"OPS-43")
                .replace(b"INC-123", b"INC-124")
            )
        else:
            headers = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    response = running.post(source, body, headers)
    assert response.status_code == 401, response.text
    assert running.store.counts() == {}


@pytest.mark.parametrize("source", ["incidentio", "generic"])
@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_a_stale_or_future_timestamp_is_400_and_leaves_nothing(
    receiver: Receiver, source: str, offset: int
) -> None:
    running = receiver()
    body, headers = closing_request(source, timestamp=int(time.time()) + offset)  # correctly signed, but old
    response = running.post(source, body, headers)
    assert response.status_code == 400
    assert "tolerance" in response.json()["error"]
    assert running.store.counts() == {}


def _padded_pagerduty(size: int) -> tuple[bytes, dict[str, str]]:
    """A signed incident.resolved delivery of exactly `size` bytes."""
    document = pagerduty_event()
    document["event"]["data"]["summary"] = ""
    base = len(json.dumps(document).encode())
    document["event"]["data"]["summary"] = "x" * (size - base)
    body, headers = pagerduty_request(document)
    assert len(body) == size
    return body, headers


def test_a_body_over_one_megabyte_is_413_by_content_length(receiver: Receiver) -> None:
    running = receiver()
    body, headers = _padded_pagerduty(1024 * 1024 + 1)
    response = running.post("pagerduty", body, headers)
    assert response.status_code == 413
    assert "Content-Length" in response.json()["error"]
    assert running.store.counts() == {}


def test_a_streamed_body_is_cut_at_the_limit_without_content_length(receiver: Receiver) -> None:
    running = receiver()
    body, headers = _padded_pagerduty(1024 * 1024 + 1)
    chunks = [body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]
    response = running.http.post("/webhooks/pagerduty", content=iter(chunks), headers=headers)  # chunked
    assert response.request.headers.get("content-length") is None
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert running.store.counts() == {}


def test_the_limit_is_inclusive(receiver: Receiver, settings: WebhookSettings) -> None:
    running = receiver(app_settings=settings.model_copy(update={"max_body_bytes": 4096}))
    assert running.post("pagerduty", *_padded_pagerduty(4096)).status_code == 202
    assert running.post("pagerduty", *_padded_pagerduty(4097)).status_code == 413
    body, headers = _padded_pagerduty(4097)
    streamed = running.http.post(
        "/webhooks/pagerduty", content=iter([body[:4000], body[4000:]]), headers=headers
    )
    assert streamed.status_code == 413
    assert running.store.counts() == {"pending": 1}


def test_a_redelivery_is_acknowledged_once(receiver: Receiver) -> None:
    running = receiver()
    document = pagerduty_event()
    body, headers = pagerduty_request(document)
    assert running.post("pagerduty", body, headers).status_code == 202
    again = running.post("pagerduty", body, headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # the dedupe key is the signed event id, not the unsigned X-Webhook-Id header
    assert (
        running.post("pagerduty", body, {**headers, "X-Webhook-Id": "another"}).json()["status"]
        == "duplicate"
    )
    # incident.io retries a message with the same webhook-id and a fresh timestamp and signature
    msg = incidentio_status_updated()
    first = running.post("incidentio", *incidentio_request(msg, msg_id="msg_retry"))
    retry = running.post(
        "incidentio", *incidentio_request(msg, msg_id="msg_retry", timestamp=int(time.time()) + 5)
    )
    assert (first.status_code, retry.status_code, retry.json()["status"]) == (202, 200, "duplicate")
    generic = generic_request(dict(GENERIC_CLOSED))
    assert [running.post("generic", *generic).status_code for _ in range(3)] == [202, 200, 200]
    assert running.store.counts() == {"pending": 3}


@pytest.mark.parametrize(
    ("source", "document"),
    [
        ("pagerduty", pagerduty_event("incident.triggered")),
        ("pagerduty", pagerduty_event("incident.acknowledged")),
        (
            "pagerduty",
            {"event": {"id": "PING1", "event_type": "pagey.ping", "resource_type": "pagey", "data": {}}},
        ),
        ("incidentio", incidentio_status_updated("triage", "live")),
        ("incidentio", incidentio_status_updated("learning", "closed")),  # already resolved before
        ("incidentio", incidentio_status_updated("triage", "declined")),
        (
            "incidentio",
            {"event_type": "public_incident.incident_created_v2", "public_incident.incident_created_v2": {}},
        ),
        ("generic", {**GENERIC_CLOSED, "status": "acknowledged"}),
    ],
    ids=[
        "pd-triggered",
        "pd-acknowledged",
        "pd-ping",
        "io-live",
        "io-learning-closed",
        "io-declined",
        "io-created",
        "generic-ack",
    ],
)
def test_events_that_do_not_close_are_acknowledged_without_a_delivery(
    receiver: Receiver, source: str, document: dict
) -> None:
    running = receiver()
    request = (
        pagerduty_request(document)
        if source == "pagerduty"
        else incidentio_request(document)
        if source == "incidentio"
        else generic_request(document)
    )
    response = running.post(source, *request)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert running.store.counts() == {}


@pytest.mark.parametrize(
    ("previous", "new"), [("live", "learning"), ("live", "closed"), ("paused", "closed")]
)
def test_incidentio_acts_when_the_status_becomes_resolved_or_closed(
    receiver: Receiver, previous: str, new: str
) -> None:
    running = receiver()
    document = incidentio_status_updated("live", new)
    document[document["event_type"]]["previous_status"]["category"] = previous
    assert running.post("incidentio", *incidentio_request(document)).status_code == 202


@pytest.mark.parametrize(
    ("source", "document", "field"),
    [
        (
            "pagerduty",
            {"event": {"id": "E1", "event_type": "incident.resolved", "resource_type": "incident"}},
            "event.data.id",
        ),
        ("pagerduty", {"event": {"event_type": "incident.resolved"}}, "event.id"),
        ("pagerduty", ["not", "an", "object"], "JSON object"),
        (
            "incidentio",
            {"event_type": "public_incident.incident_status_updated_v2"},
            "public_incident.incident_status_updated_v2",
        ),
        ("generic", {"id": "x", "status": "closed", "incident_id": "I-1", "source": "../etc"}, "source"),
        ("generic", {"id": "x", "status": "closed"}, "incident_id"),
        ("generic", {"id": "y" * 201, "status": "closed", "incident_id": "I-1"}, "longer than 200"),
    ],
)
def test_a_malformed_payload_is_400_naming_the_field(
    receiver: Receiver, source: str, document: object, field: str
) -> None:
    running = receiver()
    request = (
        pagerduty_request(document)  # type: ignore[arg-type]
        if source == "pagerduty"
        else incidentio_request(document)  # type: ignore[arg-type]
        if source == "incidentio"
        else generic_request(document)  # type: ignore[arg-type]
    )
    response = running.post(source, *request)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert running.store.counts() == {}


def test_a_signed_body_that_is_not_json_is_400(receiver: Receiver) -> None:
    from postmortem.webhook.verify import sign_pagerduty

    running = receiver()
    body = b"event=incident.resolved"
    response = running.post(
        "pagerduty", body, {"X-PagerDuty-Signature": sign_pagerduty(body, [PAGERDUTY_SECRET])}
    )
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


def test_an_endpoint_without_a_secret_is_404(receiver: Receiver, settings: WebhookSettings) -> None:
    running = receiver(
        app_settings=settings.model_copy(update={"incidentio_secrets": [], "generic_secrets": []})
    )
    assert running.post("incidentio", *closing_request("incidentio")).status_code == 404
    assert running.post("opsgenie", b"{}", {}).status_code == 404
    assert running.http.get("/webhooks/pagerduty").status_code == 405
    assert running.store.counts() == {}


def test_a_delivery_that_cannot_be_stored_is_503_and_accepted_on_retry(
    receiver: Receiver, db_url: str
) -> None:
    running = receiver()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_deliveries BEFORE INSERT ON webhook_deliveries "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    body, headers = closing_request("pagerduty")
    response = running.post("pagerduty", body, headers)
    assert response.status_code == 503  # PagerDuty retries 5xx; nothing was promised
    assert running.store.counts() == {}
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_deliveries"))
    engine.dispose()
    assert running.post("pagerduty", body, headers).status_code == 202


def test_secrets_never_reach_logs_or_reprs(
    receiver: Receiver, settings: WebhookSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    running = receiver()
    for source in SOURCES:
        running.post(source, *closing_request(source))
    running.post("pagerduty", *pagerduty_request(pagerduty_event(), secrets=("nope",)))
    running.post("incidentio", *closing_request("incidentio", timestamp=0))
    secrets = [
        PAGERDUTY_SECRET,
        PAGERDUTY_NEXT_SECRET,
        INCIDENTIO_SECRET,
        INCIDENTIO_NEXT_SECRET,
        GENERIC_SECRET,
    ]
    seen = caplog.text + repr(settings) + str(settings) + settings.model_dump_json()
    assert "accepted" in caplog.text and "refused (401)" in caplog.text
    for secret in secrets:
        assert secret not in seen
        assert secret.removeprefix("whsec_") not in seen


def test_the_limit_and_tolerance_come_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS", "a, b ,c")
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_TOLERANCE_SECONDS", "60")
    loaded = WebhookSettings()
    assert [s.get_secret_value() for s in loaded.pagerduty_secrets] == ["a", "b", "c"]
    assert (loaded.max_body_bytes, loaded.tolerance_seconds, loaded.sources()) == (2048, 60.0, ["pagerduty"])
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_INCIDENTIO_SECRETS", "whsec_!!not-base64-SECRETVALUE")
    with pytest.raises(ValueError, match="whsec_ followed by base64") as failure:
        WebhookSettings()
    assert "SECRETVALUE" not in str(failure.value)
