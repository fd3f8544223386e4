"""Incident ids resolved to their configured source, fetched fresh, and their own evidence collected."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from connectors.base import Collected, capabilities_of, fetch_evidence
from connectors.bundle import load_bundle
from connectors.collect import collect
from connectors.commands import main
from connectors.config import ConfigError, parse_config
from connectors.incident_ref import (
    IncidentRef,
    fetch_current_incident,
    incident_source,
    is_resolved,
    parse_incident_ref,
)
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.incident_vendors import (
    IO_FOLLOW_UPS,
    IO_ID,
    IO_UPDATES,
    PD_ID,
    PD_INCIDENT,
    PD_LOG_ENTRIES,
    PD_NOTES,
    script_incidentio,
    script_pagerduty,
)

TOKEN_ENV = "PM_TEST_INCIDENT_TOKEN"


@pytest.mark.parametrize(
    ("value", "ref"),
    [
        ("incident.pagerduty.P123ABC", IncidentRef("pagerduty", "P123ABC")),
        ("incident.pd-eu.P123ABC", IncidentRef("pd-eu", "P123ABC")),
        ("incident.generic.a.b", IncidentRef("generic", "a.b")),
        ("pagerduty:P123ABC", IncidentRef("pagerduty", "P123ABC")),
        ("incidentio:01FDAG4SAP5TYPT98WGR2N7W91", IncidentRef("incidentio", "01FDAG4SAP5TYPT98WGR2N7W91")),
        ("incident.INC-7", IncidentRef(None, "INC-7")),
        ("INC-7", IncidentRef(None, "INC-7")),
        ("  pagerduty:P1 ", IncidentRef("pagerduty", "P1")),
    ],
)
def test_parse_incident_ref(value: str, ref: IncidentRef) -> None:
    assert parse_incident_ref(value) == ref


@pytest.mark.parametrize("value", ["", "incident.", "incident.pagerduty.", "pagerduty:", ":P1"])
def test_parse_incident_ref_refuses_empty_parts(value: str) -> None:
    with pytest.raises(ValueError, match=r"is not `incident\.<source>\.<id>`"):
        parse_incident_ref(value)


def _config(monkeypatch: pytest.MonkeyPatch, **tables) -> object:
    monkeypatch.setenv(TOKEN_ENV, "pd-token-1234567")
    connectors = {
        name: {"type": kind, "url": url, "token": {"env": TOKEN_ENV}, "backoff": 0, **extra}
        for name, (kind, url, extra) in tables.items()
    }
    return parse_config({"connectors": connectors})


def test_the_source_is_chosen_by_instance_name_then_by_type(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(
        monkeypatch,
        pd_eu=("pagerduty", "http://127.0.0.1:9", {}),
        pd_us=("pagerduty", "http://127.0.0.1:9", {}),
        io=("incidentio", "http://127.0.0.1:9", {}),
    )
    assert incident_source(config, IncidentRef("pd_us", "P1")).name == "pd_us"
    assert incident_source(config, IncidentRef("incidentio", "X")).name == "io"
    with pytest.raises(
        ConfigError, match=r"several incident sources of type 'pagerduty'.*pd_eu \(type pagerduty\)"
    ):
        incident_source(config, IncidentRef("pagerduty", "P1"))
    with pytest.raises(ConfigError, match=r"no incident source named or of type 'opsgenie'"):
        incident_source(config, IncidentRef("opsgenie", "P1"))
    with pytest.raises(ConfigError, match=r"names no source and 3 incident sources are configured"):
        incident_source(config, IncidentRef(None, "P1"))
    single = _config(monkeypatch, pd=("pagerduty", "http://127.0.0.1:9", {}))
    assert incident_source(single, IncidentRef(None, "P1")).name == "pd"


def test_fetch_current_incident_reads_the_named_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as pd, FakeServer() as io:
        script_pagerduty(pd)
        script_incidentio(io)
        config = _config(
            monkeypatch, pagerduty=("pagerduty", pd.url, {}), incidentio=("incidentio", io.url, {})
        )
        by_resource = fetch_current_incident(config, f"incident.pagerduty.{PD_ID}")
        assert by_resource.id == PD_ID and by_resource.source == "pagerduty" and is_resolved(by_resource)
        assert fetch_current_incident(config, f"incidentio:{IO_ID}").id == IO_ID
        assert not io.requests_to(f"/v2/incidents/{PD_ID}") and not pd.requests_to(f"/incidents/{IO_ID}")


def test_the_incident_is_fetched_fresh_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as pd:
        acknowledged = {**copy.deepcopy(PD_INCIDENT), "status": "acknowledged", "resolved_at": None}
        entries = [e for e in PD_LOG_ENTRIES if e["type"] != "resolve_log_entry"]
        script_pagerduty(pd, incident=acknowledged, entries=entries)
        config = _config(monkeypatch, pagerduty=("pagerduty", pd.url, {}))
        assert not is_resolved(fetch_current_incident(config, f"pagerduty:{PD_ID}"))
        script_pagerduty(pd)  # resolved meanwhile
        assert is_resolved(fetch_current_incident(config, f"pagerduty:{PD_ID}"))


def test_collect_adds_the_incident_sources_own_evidence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeServer() as pd, FakeServer() as io:
        script_pagerduty(pd)
        script_incidentio(io)
        config = _config(
            monkeypatch, pagerduty=("pagerduty", pd.url, {}), incidentio=("incidentio", io.url, {})
        )

        incident = fetch_current_incident(config, f"pagerduty:{PD_ID}")
        result = collect(incident, config, tmp_path / "pd")
        assert not result.partial and result.datasets == {"chat": len(PD_LOG_ENTRIES) + len(PD_NOTES)}
        assert not io.requests  # the other incident source is not asked about this incident
        bundle = load_bundle(tmp_path / "pd")
        assert set(bundle.frames["chat"]["channel"]) == {"pagerduty:log", "pagerduty:notes"}
        manifest = json.loads((tmp_path / "pd" / "manifest.json").read_text())
        assert manifest["datasets"]["chat"]["sources"] == ["pagerduty"]

        incident = fetch_current_incident(config, f"incidentio:{IO_ID}")
        result = collect(incident, config, tmp_path / "io")
        assert result.datasets == {"chat": len(IO_UPDATES), "actions": len(IO_FOLLOW_UPS)}
        bundle = load_bundle(tmp_path / "io")
        assert [a.title for a in bundle.actions] == [f["title"] for f in IO_FOLLOW_UPS]
        manifest = json.loads((tmp_path / "io" / "manifest.json").read_text())
        assert manifest["datasets"]["actions"] == {
            "file": "actions.jsonl",
            "records": 2,
            "sources": ["incidentio"],
        }


def test_a_failing_evidence_pull_makes_the_collection_partial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeServer() as pd:
        script_pagerduty(pd)
        config = _config(monkeypatch, pagerduty=("pagerduty", pd.url, {}))
        incident = fetch_current_incident(config, f"pagerduty:{PD_ID}")
        pd.route("GET", f"/incidents/{PD_ID}/notes", Reply(403, json={"error": {"message": "Forbidden"}}))
        result = collect(incident, config, tmp_path / "b")
    assert result.partial
    (failure,) = [s for s in result.sources if s.status == "error"]
    assert failure.capability == "incident_evidence" and "HTTP 403" in (failure.error or "")
    assert "pd-token-1234567" not in (tmp_path / "b" / "manifest.json").read_text()


def test_collect_cli_resolves_a_prefixed_incident_id(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeServer() as pd:
        script_pagerduty(pd)
        monkeypatch.setenv(TOKEN_ENV, "pd-token-1234567")
        toml = tmp_path / "postmortem.toml"
        table = f'type = "pagerduty"\nurl = "{pd.url}"\ntoken = {{ env = "{TOKEN_ENV}" }}\n'
        toml.write_text(f"[connectors.pagerduty]\n{table}")
        out = tmp_path / "bundle"
        assert (
            main(["--incident-id", f"incident.pagerduty.{PD_ID}", "--config", str(toml), "--out", str(out)])
            == 0
        )
        assert load_bundle(out).incident.id == PD_ID
        pd.inject(
            "GET", f"/incidents/{PD_ID}", Reply(404, json={"error": {"message": "Not Found", "code": 2100}})
        )
        code = main(
            ["--incident-id", f"pagerduty:{PD_ID}", "--config", str(toml), "--out", str(tmp_path / "x")]
        )
        assert code == 1


class _Evidence:
    name = "fake"

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def fetch_incident_evidence(self, incident_id: str) -> list:
        return self.parts


def test_fetch_evidence_checks_datasets() -> None:
    chat, actions = Collected("chat", []), Collected("actions", [])
    assert fetch_evidence(_Evidence([chat, actions]), "X") == [chat, actions]
    assert "incident_evidence" in capabilities_of(_Evidence([]))
    with pytest.raises(TypeError, match=r"got 'metricz'"):
        fetch_evidence(_Evidence([Collected("metricz", [])]), "X")
    with pytest.raises(TypeError, match=r"got 'chat' twice"):
        fetch_evidence(_Evidence([chat, chat]), "X")
    with pytest.raises(TypeError, match=r"got 'dict'"):
        fetch_evidence(_Evidence([{"dataset": "chat"}]), "X")
    with pytest.raises(TypeError, match="has no capability 'incident_evidence'"):
        fetch_evidence(object(), "X")
