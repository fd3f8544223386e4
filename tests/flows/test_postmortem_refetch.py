"""The `postmortem` flow fetches a live incident fresh from its source before it runs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.connectors.fakeserver import FakeServer
from tests.connectors.incident_vendors import PD_ID, PD_INCIDENT, PD_LOG_ENTRIES, PD_NOTES, script_pagerduty

TOKEN_ENV = "PM_TEST_PD_TOKEN"


@pytest.fixture
def pagerduty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake PagerDuty and a postmortem.toml pointing at it."""
    monkeypatch.setenv(TOKEN_ENV, "pd-flow-token-123")
    with FakeServer() as server:
        toml = tmp_path / "postmortem.toml"
        toml.write_text(
            "[connectors.pagerduty]\n"
            'type = "pagerduty"\n'
            f'url = "{server.url}"\n'
            f'token = {{ env = "{TOKEN_ENV}" }}\n'
            "backoff = 0\n"
        )
        yield server, str(toml)


def test_an_incident_not_resolved_at_its_source_gets_no_report(
    prefect_harness, data_dir: Path, pagerduty
) -> None:
    from flows.postmortem import postmortem

    server, toml = pagerduty
    acknowledged = {**copy.deepcopy(PD_INCIDENT), "status": "acknowledged", "resolved_at": None}
    script_pagerduty(
        server, incident=acknowledged, entries=[e for e in PD_LOG_ENTRIES if "resolve" not in e["type"]]
    )
    # a late or replayed incident.closed event: the source says the incident is still open
    result = postmortem(incident_id=f"incident.pagerduty.{PD_ID}", config=toml)
    assert result == {"incident": PD_ID, "status": "not_resolved", "incident_status": "acknowledged"}
    assert not (data_dir / "reports").exists()
    assert not server.requests_to(f"/incidents/{PD_ID}/notes")  # no evidence collected either


def test_a_resolved_incident_is_reported_with_its_log_in_the_timeline(
    prefect_harness, data_dir: Path, pagerduty
) -> None:
    from flows.postmortem import postmortem

    server, toml = pagerduty
    script_pagerduty(server)
    summary = postmortem(incident_id=f"pagerduty:{PD_ID}", config=toml, rerun_reason="test")
    assert summary["incident"] == PD_ID and summary["report_version"] == 1
    assert len(server.requests_to(f"/incidents/{PD_ID}", "GET")) == 1  # fetched once, collected from that
    assert summary["collection"]["datasets"] == {"chat": len(PD_LOG_ENTRIES) + len(PD_NOTES)}
    report = Path(summary["reports"]["engineering.md"]).read_text()
    assert "Earline Greenholt: Firefighters are on the scene." in report
    assert "The server is on fire." in report

    again = postmortem(incident_id=f"incident.pagerduty.{PD_ID}", config=toml, rerun_reason="same evidence")
    assert again["report_version"] == 1 and not again["new_report_version"]
