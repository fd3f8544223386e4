"""`postmortem collect`: concurrent pulls, partial results, raw payloads, manifest, bundle, CLI."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from pydantic import BaseModel, Field

from connectors import registry
from connectors.base import Collected, RawPayload, Window
from connectors.bundle import load_bundle
from connectors.collect import collect, incident_window
from connectors.commands import list_main, main
from connectors.config import SecretRef, parse_config
from connectors.http import HttpClient
from connectors.registry import ConnectorType
from postmortem.model import Alert, Incident
from tests.connectors import sample_connector as sample
from tests.connectors.fakeserver import FakeServer, Reply

TOKEN = "tok-planted-abcdef123456"
INCIDENT = Incident(
    id="INC-7",
    severity="SEV2",
    started_at=sample.T0 - timedelta(minutes=10),
    detected_at=sample.T0,
    resolved_at=sample.T0 + timedelta(minutes=40),
)


class SleepyConfig(BaseModel):
    """Config of the test connectors."""

    seconds: float = 0.0
    url: str = ""
    token: SecretRef | None = Field(None, description="a secret the broken source leaks into its URL")


class Sleepy:
    """Alerts after a pause (concurrency tests)."""

    def __init__(self, config: SleepyConfig, name: str):
        self.name, self.config = name, config

    def fetch_alerts(self, window: Window) -> Collected:
        time.sleep(self.config.seconds)
        alert = Alert(id=f"{self.name}-1", ts=window.start + timedelta(hours=1), name="HighErrorRate")
        return Collected("alerts", [alert], [RawPayload(self.name, f"mem://{self.name}", b"{}")])


class Broken:
    """Fails with an HttpError whose URL would carry the token if it were not redacted."""

    def __init__(self, config: SleepyConfig, name: str):
        self.name, self.config = name, config

    def fetch_logs(self, window: Window) -> Collected:
        client = HttpClient(self.config.url, source=self.name, retries=0)
        client.get_json(
            "/loki/api/v1/query_range",
            {"query": "{app=~'.+'}", "token": self.config.token.get_secret_value()},
        )
        raise AssertionError("unreachable: the server answers 401")


SLEEPY = ConnectorType("sleepy", SleepyConfig, Sleepy, ("alerts",), "alerts after a pause")
BROKEN = ConnectorType("broken", SleepyConfig, Broken, ("logs",), "always fails")
TYPES = {"sleepy": SLEEPY, "broken": BROKEN, "sample": sample.CONNECTOR}


@pytest.fixture
def servers(monkeypatch):
    """The sample vendor and a server that refuses every query with 401."""
    monkeypatch.setenv("VENDOR_TOKEN", TOKEN)
    with FakeServer() as vendor, FakeServer() as refusing:
        sample.script(vendor)
        refusing.route("GET", "/loki/api/v1/query_range", Reply(401, body=f"bad token {TOKEN}"))
        yield vendor, refusing


def config_for(vendor: FakeServer, refusing: FakeServer):
    return parse_config(
        {
            "connectors": {
                "vendor": {
                    "type": "sample",
                    "url": vendor.url,
                    "token": {"env": "VENDOR_TOKEN"},
                    "backoff": 0,
                },
                "loki": {"type": "broken", "url": refusing.url, "token": {"env": "VENDOR_TOKEN"}},
            },
            "topology": {"services": {"checkout": ["payments"]}},
        },
        types=TYPES,
    )


def test_a_failing_source_gives_a_partial_bundle_with_the_others_data(servers, tmp_path):
    config = config_for(*servers)
    result = collect(INCIDENT, config, tmp_path / "out")
    assert result.partial
    assert result.datasets == {"metrics": 6, "deploys": 2}
    assert result.errors[0].startswith("loki/logs: HttpError: GET http://127.0.0.1:")

    bundle = load_bundle(tmp_path / "out")
    assert bundle.incident.id == "INC-7"
    assert len(bundle.frames["metrics"]) == 6 and list(bundle.frames["deploys"]["id"]) == ["rel-1", "rel-2"]
    assert "logs.jsonl" not in bundle.present and bundle.topology.services == {"checkout": ["payments"]}

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "partial"
    assert manifest["window"] == {"start": "2025-03-04T03:50:00Z", "end": "2025-03-04T11:10:00Z"}
    by_key = {(s["source"], s["capability"]): s for s in manifest["sources"]}
    metrics = by_key[("vendor", "metrics")]
    assert metrics["status"] == "ok" and metrics["records"] == 6 and metrics["error"] is None
    assert (
        len(metrics["requests"]) == 2 and "start=2025-03-04T03%3A50%3A00%2B00%3A00" in metrics["requests"][0]
    )
    assert metrics["duration_s"] >= 0
    logs = by_key[("loki", "logs")]
    assert (
        logs["status"] == "error"
        and "token=REDACTED: HTTP 401 Unauthorized: bad token REDACTED" in logs["error"]
    )
    assert manifest["datasets"]["metrics"] == {"file": "metrics.csv", "records": 6, "sources": ["vendor"]}

    index = json.loads((tmp_path / "out" / "raw" / "index.json").read_text())
    assert [e["file"] for e in index] == [f"raw/vendor/{i:04d}.json" for i in range(1, 5)]
    first = index[0]
    assert (tmp_path / "out" / first["file"]).read_bytes() == json.dumps(sample._points(1)).encode()
    assert first["capability"] == "metrics" and first["uri"] == metrics["requests"][0]

    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert TOKEN not in written


def test_sources_are_pulled_concurrently(tmp_path):
    config = parse_config(
        {"connectors": {"a": {"type": "sleepy", "seconds": 1.0}, "b": {"type": "sleepy", "seconds": 1.0}}},
        types=TYPES,
    )
    began = time.monotonic()
    result = collect(INCIDENT, config, tmp_path / "out")
    assert time.monotonic() - began < 1.6
    assert not result.partial and result.datasets == {"alerts": 2}
    assert set(load_bundle(tmp_path / "out").frames["alerts"]["id"]) == {"a-1", "b-1"}


def test_only_window_and_rerun_replace_the_output(servers, tmp_path):
    config = config_for(*servers)
    out = tmp_path / "out"
    collect(INCIDENT, config, out)
    window = Window(sample.T0 - timedelta(minutes=10), sample.T0 + timedelta(minutes=1))
    result = collect(INCIDENT, config, out, window=window, only=["vendor"])
    assert not result.partial and result.datasets == {"metrics": 6, "deploys": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and {s["source"] for s in manifest["sources"]} == {"vendor"}
    assert not list(tmp_path.glob(".out.*")), "the temporary directory was left behind"
    with pytest.raises(ValueError, match="unknown connectors \\['nope'\\]"):
        collect(INCIDENT, config, out, only=["nope"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not an earlier collect output"):
        collect(INCIDENT, config, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_incident_window_from_impact_start_to_resolution():
    window = incident_window(INCIDENT, timedelta(hours=6), timedelta(minutes=30))
    assert window.start == INCIDENT.started_at - timedelta(hours=6)
    assert window.end == INCIDENT.resolved_at + timedelta(minutes=30)
    open_incident = Incident(
        id="I", severity="SEV3", detected_at=sample.T0, acknowledged_at=sample.T0 + timedelta(hours=1)
    )
    assert incident_window(open_incident, timedelta(0), timedelta(0)) == Window(
        sample.T0, sample.T0 + timedelta(hours=1)
    )
    with pytest.raises(ValueError, match="no milestone timestamps"):
        incident_window(Incident(id="I", severity="SEV3"))


@pytest.fixture
def registered():
    for ct in TYPES.values():
        registry.register(ct)
    yield
    for name in TYPES:
        registry.unregister(name)


def test_cli_exit_codes(servers, tmp_path, registered, capsys):
    vendor, refusing = servers
    incident = tmp_path / "incident.json"
    incident.write_text(INCIDENT.model_dump_json())
    toml = tmp_path / "postmortem.toml"
    toml.write_text(
        f'[connectors.vendor]\ntype = "sample"\nurl = "{vendor.url}"\ntoken = {{ env = "VENDOR_TOKEN" }}\n'
        f'[connectors.loki]\ntype = "broken"\nurl = "{refusing.url}"\ntoken = {{ env = "VENDOR_TOKEN" }}\n'
    )
    args = ["--incident-json", str(incident), "--config", str(toml)]
    assert main([*args, "--out", str(tmp_path / "a"), "--only", "vendor"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--before", "30m", "--after", "0s"]) == 3
    out = capsys.readouterr().out
    assert "partial: bundle written to" in out and "error  loki/logs" in out and TOKEN not in out
    window = json.loads((tmp_path / "b" / "manifest.json").read_text())["window"]
    assert window == {"start": "2025-03-04T09:20:00Z", "end": "2025-03-04T10:40:00Z"}

    toml.write_text('[connectors.vendor]\ntype = "sample"\n')
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        "postmortem collect: postmortem.toml [connectors.vendor] field 'url': Field required"
    )
    incident.write_text('{"id": "X"}')
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    assert main(["--incident-id", "INC-7", "--config", str(toml), "--out", str(tmp_path / "c")]) == 2


def test_connectors_list_marks_secret_fields(registered, capsys):
    assert list_main(["--json"]) == 0
    described = {t["type"]: t for t in json.loads(capsys.readouterr().out)}
    fields = {f["name"]: f for f in described["sample"]["fields"]}
    assert described["sample"]["capabilities"] == ["metrics", "deploys"]
    assert fields["token"]["secret"] and fields["token"]["type"] == "secret reference"
    assert fields["url"]["required"] and fields["url"]["type"] == "str" and not fields["url"]["secret"]
    assert fields["max_pages"]["default"] == 100
    assert list_main([]) == 0
    assert "token: secret reference (required, secret: { env = ... } or { prefect_secret = ... })" in (
        capsys.readouterr().out
    )
