"""Alertmanager connector: webhook payloads, the v2 adapter, config, conformance, and a real Alertmanager."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from connectors.alertmanager import (
    CONNECTOR,
    AlertmanagerConfig,
    AlertmanagerConnector,
    api_alert,
    fingerprint,
    parse_webhook,
)
from connectors.base import Window
from connectors.config import ConfigError, connector_config
from connectors.http_errors import PayloadError
from postmortem.model import Alert
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.servers import Server, start_alertmanager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "alertmanager.md"

# A webhook payload in the shape Alertmanager documents for webhook_config (version 4): one alert
# still firing (endsAt is Go's zero time) and one resolved.
WEBHOOK = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "postmortem",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
    "commonAnnotations": {"runbook_url": "https://runbooks.example.org/high-error-rate"},
    "externalURL": "http://alertmanager.example.org:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": "checkout",
                "severity": "critical",
                "env": "prod",
            },
            "annotations": {
                "summary": "5xx ratio above 5 % on checkout",
                "runbook_url": "https://runbooks.example.org/high-error-rate",
            },
            "startsAt": "2024-03-01T10:15:30.123456789+01:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=job%3Aerrors%3Aratio+%3E+0.05",
            "fingerprint": "b1c7a3f0e2d45a61",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "HighErrorRate", "job": "payments-api", "severity": "critical"},
            "annotations": {"summary": "5xx ratio above 5 % on payments"},
            "startsAt": "2024-03-01T09:00:00Z",
            "endsAt": "2024-03-01T09:20:00Z",
            "generatorURL": "",
            "fingerprint": "0f3de71b9c0a2e84",
        },
    ],
}


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- webhook and adapter


def test_webhook_firing_alert_stays_open_and_resolved_alert_has_its_end() -> None:
    firing, resolved = parse_webhook(WEBHOOK)
    assert firing.id == "b1c7a3f0e2d45a61"
    assert firing.ts == datetime(2024, 3, 1, 9, 15, 30, 123456, tzinfo=UTC)
    assert firing.ends_at is None and firing.status == "firing"
    assert (firing.name, firing.service, firing.severity) == ("HighErrorRate", "checkout", "critical")
    assert firing.labels["runbook_url"] == "https://runbooks.example.org/high-error-rate"
    assert firing.labels["env"] == "prod" and firing.labels["summary"].startswith("5xx ratio")
    assert firing.url is not None and firing.url.startswith("http://prometheus.example.org:9090/graph")
    assert resolved.status == "resolved" and resolved.ends_at == datetime(2024, 3, 1, 9, 20, tzinfo=UTC)
    assert resolved.service == "payments-api"  # no `service` label: `job`
    assert resolved.url is None
    for alert in (firing, resolved):
        Alert.model_validate(alert.model_dump())
        assert alert.receivers == ["postmortem"]


def test_webhook_labels_win_over_annotations_and_service_label_is_configurable() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "app": "cart", "priority": "P1", "summary": "label"},
                "annotations": {"summary": "annotation"},
                "startsAt": "2024-03-01T09:00:00Z",
                "endsAt": "2024-03-01T09:05:00Z",
            }
        ],
    }
    (alert,) = parse_webhook(payload, service_label="app", severity_label="priority")
    assert (alert.service, alert.severity, alert.labels["summary"]) == ("cart", "P1", "label")
    assert alert.ends_at is None  # firing: the endsAt Alertmanager sends is only a timeout
    assert alert.id == fingerprint({"alertname": "Down", "app": "cart", "priority": "P1", "summary": "label"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "3"}, "version '3' is not supported"),
        ({"alerts": None}, "`alerts` is missing"),
        ({"alerts": [{**WEBHOOK["alerts"][1], "status": "pending"}]}, r"alerts\[0\]: status 'pending'"),
        (
            {"alerts": [{**WEBHOOK["alerts"][1], "startsAt": "2024-03-01T09:00:00"}]},
            r"alerts\[0\] startsAt.*offset",
        ),
        ({"alerts": [{**WEBHOOK["alerts"][1], "startsAt": None}]}, r"alerts\[0\]: startsAt is missing"),
    ],
)
def test_webhook_errors_name_the_alert_and_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_webhook({**WEBHOOK, **change})


def test_api_alert_is_open_until_its_ends_at_has_passed() -> None:
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)
    item = {
        "labels": {"alertname": "A", "service": "s"},
        "annotations": {},
        "startsAt": "2024-03-01T11:00:00Z",
        "endsAt": "2024-03-01T12:05:00Z",
        "fingerprint": "f",
        "receivers": [{"name": "team"}],
        "status": {"state": "suppressed", "silencedBy": ["sil-1"], "inhibitedBy": []},
    }
    alert = api_alert(item, now, "here")
    assert (alert.status, alert.ends_at, alert.state, alert.silenced_by) == (
        "firing",
        None,
        "suppressed",
        ["sil-1"],
    )
    ended = api_alert({**item, "endsAt": "2024-03-01T11:30:00Z"}, now, "here")
    assert (ended.status, ended.ends_at) == ("resolved", datetime(2024, 3, 1, 11, 30, tzinfo=UTC))


# ---------------------------------------------------------------- config


def test_config_builds_the_query_parameters_and_rejects_ambiguous_auth() -> None:
    base = {"type": "alertmanager", "url": "http://127.0.0.1:9093"}
    settings = connector_config("am", {**base, "filter": ['env="prod"'], "silenced": False}).settings
    assert isinstance(settings, AlertmanagerConfig)
    assert settings.params() == {
        "active": "true",
        "silenced": "false",
        "inhibited": "true",
        "unprocessed": "true",
        "filter": ['env="prod"'],
    }
    with pytest.raises(ConfigError, match=r"\[connectors\.am\].*either bearer_token or username/password"):
        connector_config(
            "am", {**base, "bearer_token": SecretStr("t"), "username": "u", "password": SecretStr("p")}
        )
    with pytest.raises(ConfigError, match=r"\[connectors\.am\] field 'filter'"):
        connector_config("am", {**base, "filter": 'env="prod"'})


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"url": "http://127.0.0.1:9", "bearer_token": {"env": SECRET_ENV}}, monkeypatch)
    check_config(
        CONNECTOR,
        {"url": "http://127.0.0.1:9", "username": "u", "password": {"env": SECRET_ENV}},
        monkeypatch,
    )


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("ALERTMANAGER_PASSWORD", "pa55word")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        assert isinstance(connector_config(name, table).settings, AlertmanagerConfig)


# ---------------------------------------------------------------- conformance (fake server)

CONFORMANCE_START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _gettable(i: int) -> dict[str, Any]:
    labels = {"alertname": f"Alert{i}", "service": "checkout", "severity": "warning"}
    return {
        "labels": labels,
        "annotations": {"runbook_url": f"https://runbooks.example.org/{i}"},
        "startsAt": _iso(CONFORMANCE_START + timedelta(minutes=i)),
        "endsAt": _iso(datetime.now(UTC) + timedelta(minutes=5)),
        "updatedAt": _iso(datetime.now(UTC)),
        "fingerprint": fingerprint(labels),
        "receivers": [{"name": "null"}],
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "generatorURL": "http://prometheus.example.org/graph",
    }


def _script(server: FakeServer) -> None:
    server.route("GET", "/api/v2/alerts", Reply(json=[_gettable(i) for i in range(3)]))


CASE = ConnectorCase(
    capability="alerts",
    build=lambda url, secret: CONNECTOR.create(
        AlertmanagerConfig(url=url, username="pm", password=SecretStr(secret), backoff=0), "am"
    ),
    script=_script,
    endpoint="/api/v2/alerts",
    window=Window(CONFORMANCE_START, CONFORMANCE_START + timedelta(hours=1)),
    min_records=3,
    pages=1,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)


# ---------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real Alertmanager for this module (tests tell their alerts apart with a `test` label)."""
    with start_alertmanager(tmp_path_factory.mktemp("alertmanager")) as server:
        yield server


def _post(server: Server, path: str, body: Any) -> requests.Response:
    response = requests.post(f"{server.url}{path}", json=body, timeout=5)
    assert response.ok, f"POST {path}: {response.status_code} {response.text}"
    return response


def _window(now: datetime) -> Window:
    """Two hours before now to a minute after."""
    return Window(now - timedelta(hours=2), now + timedelta(minutes=1))


def _connector(server: Server, test: str, **fields: Any) -> AlertmanagerConnector:
    config = AlertmanagerConfig(url=server.url, filter=[f'test="{test}"'], **fields)
    return AlertmanagerConnector(config, "am")


def test_reads_firing_and_silenced_alerts_back_and_resolved_ones_are_gone(alertmanager: Server) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    common = {"test": "states", "severity": "critical"}
    alerts = [
        {  # firing, no endsAt: Alertmanager sets one resolve_timeout ahead
            "labels": {**common, "alertname": "HighErrorRate", "service": "checkout"},
            "annotations": {"runbook_url": "https://runbooks.example.org/errors", "summary": "errors"},
            "startsAt": _iso(now - timedelta(minutes=50)),
            "generatorURL": "http://prometheus.example.org/graph?g0.expr=errors",
        },
        {  # firing with an explicit future endsAt, service from `job`
            "labels": {**common, "alertname": "SlowRequests", "job": "payments"},
            "startsAt": _iso(now - timedelta(minutes=30)),
            "endsAt": _iso(now + timedelta(hours=1)),
        },
        {  # resolved 5 minutes ago
            "labels": {**common, "alertname": "DiskFull", "service": "db"},
            "startsAt": _iso(now - timedelta(minutes=40)),
            "endsAt": _iso(now - timedelta(minutes=5)),
        },
        {  # silenced below
            "labels": {**common, "alertname": "Flapping", "service": "search"},
            "startsAt": _iso(now - timedelta(minutes=20)),
        },
    ]
    _post(alertmanager, "/api/v2/alerts", alerts)
    silence = {
        "matchers": [{"name": "alertname", "value": "Flapping", "isRegex": False, "isEqual": True}],
        "startsAt": _iso(now),
        "endsAt": _iso(now + timedelta(hours=1)),
        "createdBy": "test",
        "comment": "known flapper",
    }
    silence_id = _post(alertmanager, "/api/v2/silences", silence).json()["silenceID"]

    connector = _connector(alertmanager, "states")
    collected = connector.fetch_alerts(_window(now))
    got = {a.name: a for a in collected.records}
    # Alertmanager's v2 API drops alerts whose endsAt has passed: the resolved one is not returned
    assert sorted(got) == ["Flapping", "HighErrorRate", "SlowRequests"]
    assert len(collected.raw) == 1 and collected.raw[0].source == "am"
    for alert in got.values():
        assert alert.status == "firing" and alert.ends_at is None and alert.severity == "critical"
        assert alert.id == fingerprint(
            {k: v for k, v in alert.labels.items() if k not in ("runbook_url", "summary")}
        )
    high = got["HighErrorRate"]
    assert high.ts == now - timedelta(minutes=50) and high.service == "checkout"
    assert high.labels["runbook_url"] == "https://runbooks.example.org/errors"
    assert high.url == "http://prometheus.example.org/graph?g0.expr=errors"
    assert high.state == "active" and high.receivers == ["null"]
    assert got["SlowRequests"].service == "payments"
    assert got["Flapping"].state == "suppressed" and got["Flapping"].silenced_by == [silence_id]

    unsilenced = _connector(alertmanager, "states", silenced=False)
    assert sorted(a.name for a in unsilenced.fetch_alerts(_window(now)).records) == [
        "HighErrorRate",
        "SlowRequests",
    ]
    early = connector.fetch_alerts(Window(now - timedelta(hours=2), now - timedelta(minutes=40)))
    assert [a.name for a in early.records] == ["HighErrorRate"]  # the others started after the window


def test_two_hundred_alerts_come_back_in_one_request(alertmanager: Server) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [
        {
            "labels": {
                "test": "bulk",
                "alertname": f"Alert{i % 20}",
                "service": f"svc{i % 7}",
                "shard": str(i),
            },
            "annotations": {"summary": f"alert {i}"},
            "startsAt": _iso(now - timedelta(minutes=i % 90)),
        }
        for i in range(200)
    ]
    _post(alertmanager, "/api/v2/alerts", alerts)
    collected = _connector(alertmanager, "bulk").fetch_alerts(_window(now))
    assert len(collected.records) == 200
    assert len({a.id for a in collected.records}) == 200
    assert {a.service for a in collected.records} == {f"svc{i}" for i in range(7)}


def test_an_answer_that_is_not_a_list_of_alerts_is_a_payload_error() -> None:
    with FakeServer() as server:
        server.route("GET", "/api/v2/alerts", Reply(json={"status": "success", "data": []}))
        connector = AlertmanagerConnector(AlertmanagerConfig(url=server.url), "am")
        with pytest.raises(
            PayloadError, match=r"/api/v2/alerts\?active=true.*expected a JSON list of alerts, got dict"
        ):
            connector.fetch_alerts(_window(datetime.now(UTC)))
