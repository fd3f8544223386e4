"""Timeline, key moments and durations on a small bundle written and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.bundle import Bundle, load_bundle, write_bundle
from postmortem.model import Durations, Incident, LogPattern, MetricCandidate, Moments, Onset
from tasks.timeline import COLUMNS, DURATION_DEFINITIONS, build_timeline, compute_durations, key_moments

START = datetime(2025, 9, 10, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A time relative to the impact start."""
    return START + timedelta(minutes=minutes)


INCIDENT: dict[str, Any] = {
    "id": "INC-7",
    "title": "Checkout errors",
    "severity": "SEV2",
    "services": ["checkout", "web"],
    "started_at": at(0),
    "detected_at": at(6),
    "acknowledged_at": at(9),
    "mitigated_at": at(30),
    "resolved_at": at(50),
}
ALERTS = [
    {"id": "a-noise", "ts": at(-240), "ends_at": at(-230), "name": "DiskFull", "service": "web"},
    {"id": "a-old", "ts": at(-20), "ends_at": at(-12), "name": "HighMemory", "service": "web"},
    {"id": "a-other", "ts": at(1), "name": "CronFailed", "service": "billing", "severity": "info"},
    {"id": "a-1", "ts": at(4), "ends_at": at(35), "name": "HighErrorRate", "service": "checkout",
     "severity": "critical", "labels": {"runbook_url": "https://wiki/runbooks/errors"}},
]  # fmt: skip
DEPLOYS = [
    {"id": "d-1", "ts": at(-8), "service": "checkout", "version": "v2.1.0", "kind": "deploy",
     "status": "succeeded", "actor": "maya", "environment": "production"},
    {"id": "d-2", "ts": at(28), "service": "checkout", "version": "v2.0.9", "kind": "rollback",
     "status": "succeeded", "actor": "maya"},
    {"id": "d-3", "ts": at(4), "service": "search", "kind": "feature_flag"},
]  # fmt: skip
COMMITS = [
    {"sha": "a" * 40, "ts": at(-30), "message": "fix(checkout): retry payments\n\nlong body",
     "repo": "acme/checkout", "service": "checkout"},
    {"sha": "b" * 40, "ts": at(-60 * 24 * 30), "message": "ancient history", "repo": "acme/web"},
]  # fmt: skip
CHAT = [
    {"ts": at(6), "channel": "#inc-7", "user": "ana", "text": "seeing 500s on checkout"},
    {"ts": at(7), "channel": "#inc-7", "user": "bo", "text": "x" * 500},
]
TICKETS = [{"key": "SUP-1", "ts": at(8), "title": "Customers cannot pay", "status": "open"}]
METRICS = [{"ts": at(m), "service": "checkout", "metric": "errors", "value": 0.01} for m in range(-10, 10)]
LOGS = [{"ts": at(m / 2), "service": "checkout", "level": "info", "message": "ok"} for m in range(40)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The small bundle, written and loaded like a real one."""
    root: Path = tmp_path_factory.mktemp("bundle")
    write_bundle(
        root,
        INCIDENT,
        {
            "alerts": ALERTS,
            "deploys": DEPLOYS,
            "commits": COMMITS,
            "chat": CHAT,
            "tickets": TICKETS,
            "metrics": METRICS,
            "logs": LOGS,
        },
    )
    return load_bundle(root)


ONSETS = [MetricCandidate(service="checkout", metric="errors", score=0.9, onset=at(1))]
PATTERNS = [
    LogPattern(
        template="payment <NUM> failed", service="checkout", count=42, first_seen=at(2), score=0.8, new=True
    )
]


def test_timeline_columns_order_and_window(bundle: Bundle) -> None:
    timeline = build_timeline(bundle.incident, bundle.frames, ONSETS, PATTERNS)
    assert list(timeline.columns) == COLUMNS
    assert str(timeline["ts"].dtype) == "datetime64[ns, UTC]"
    assert timeline["ts"].is_monotonic_increasing
    refs = set(timeline["ref"].dropna())
    assert "b" * 40 not in refs  # a month before the incident: outside its window
    assert {"a" * 40, "d-1", "d-2", "d-3", "a-1", "SUP-1", "INC-7"} <= refs
    # raw metric points and log lines are summarised, not listed
    assert (timeline["source"] == "metrics").sum() == 1
    assert (timeline["source"] == "logs").sum() == 1


def test_timeline_content(bundle: Bundle) -> None:
    timeline = build_timeline(bundle.incident, bundle.frames, ONSETS, PATTERNS)
    rows = {(r.source, r.kind, r.ref): r for r in timeline.itertuples()}
    milestones = timeline[timeline["source"] == "incident"]
    assert milestones["kind"].tolist() == ["started", "detected", "acknowledged", "mitigated", "resolved"]
    assert "Checkout errors" in milestones["summary"].iloc[0]
    firing, resolved = rows["alerts", "alert_firing", "a-1"], rows["alerts", "alert_resolved", "a-1"]
    assert firing.ts == at(4) and resolved.ts == at(35)
    assert "HighErrorRate" in firing.summary and "checkout" in firing.summary
    assert ("alerts", "alert_resolved", "a-other") not in rows  # no ends_at: no resolution row
    deploy = rows["deploys", "deploy", "d-1"]
    assert all(part in deploy.summary for part in ("checkout", "v2.1.0", "succeeded", "maya"))
    assert rows["deploys", "rollback", "d-2"].service == "checkout"
    assert rows["deploys", "feature_flag", "d-3"].summary.startswith("feature flag of search")
    commit = rows["commits", "commit", "a" * 40]
    assert commit.summary == "fix(checkout): retry payments (acme/checkout)"
    chat = timeline[timeline["kind"] == "message"]["summary"].tolist()
    assert chat[0] == "ana: seeing 500s on checkout"
    assert chat[1].startswith("bo: xxx") and len(chat[1]) == 200 and chat[1].endswith("…")
    assert rows["tickets", "ticket", "SUP-1"].summary == "SUP-1 Customers cannot pay (open)"
    onset = timeline[timeline["kind"] == "anomaly_onset"].iloc[0]
    assert (onset.ts, onset.service) == (at(1), "checkout") and "errors" in onset.summary
    pattern = timeline[timeline["kind"] == "log_pattern_first_seen"].iloc[0]
    assert "payment <NUM> failed" in pattern.summary and "42" in pattern.summary


def test_ties_follow_the_source_priority(bundle: Bundle) -> None:
    timeline = build_timeline(bundle.incident, bundle.frames, ONSETS, PATTERNS)
    at_4 = timeline[timeline["ts"] == at(4)]["source"].tolist()
    assert at_4 == ["deploys", "alerts"]  # the change before its effect
    at_6 = timeline[timeline["ts"] == at(6)]["source"].tolist()
    assert at_6 == ["incident", "chat"]


def test_milestones_survive_without_any_evidence() -> None:
    incident = Incident.model_validate(INCIDENT)
    timeline = build_timeline(incident, {}, [], [])
    assert timeline["kind"].tolist() == ["started", "detected", "acknowledged", "mitigated", "resolved"]
    empty = build_timeline(Incident(id="X", severity="SEV4"), {}, [], [])
    assert empty.empty and list(empty.columns) == COLUMNS


def test_timeline_of_a_large_incident_is_vectorised() -> None:
    """5k commits, 1k deploys, 2k alerts and 2k chat messages build in one pass (sizes, not a timer)."""
    incident = Incident.model_validate(INCIDENT)
    n = 5000
    stamps = pd.Series(pd.date_range(at(-300), at(60), periods=n), dtype="datetime64[ns, UTC]")
    commits = pd.DataFrame(
        {"sha": [f"{i:040x}" for i in range(n)], "ts": stamps, "message": "m", "repo": "r"}
    )
    deploys = pd.DataFrame({"id": [f"d{i}" for i in range(1000)], "ts": stamps[:1000], "kind": "deploy"})
    alerts = pd.DataFrame(
        {"id": [f"a{i}" for i in range(2000)], "ts": stamps[:2000], "ends_at": stamps[1:2001].to_numpy()}
    )
    chat = pd.DataFrame({"ts": stamps[:2000], "user": "u", "text": "t"})
    frames = {"commits": commits, "deploys": deploys, "alerts": alerts, "chat": chat}
    timeline = build_timeline(incident, frames, [], [])
    assert len(timeline) == 5 + n + 1000 + 2000 + 2000 + 2000
    assert timeline["ts"].is_monotonic_increasing


# ---------------------------------------------------------------- key moments


def test_key_moments_from_the_incident_record(bundle: Bundle) -> None:
    onset = Onset(ts=at(1), service="checkout", metric="errors")
    moments = key_moments(bundle.incident, bundle.frames, onset)
    assert moments == Moments(
        impact_start=at(0),
        first_anomaly=at(1),
        first_alert=at(4),  # not the web alert that ended before impact, nor the billing one
        detection=at(6),
        acknowledgement=at(9),
        mitigation=at(30),
        resolution=at(50),
    )


def test_key_moments_fallbacks(bundle: Bundle) -> None:
    sparse = bundle.incident.model_copy(
        update={"started_at": None, "detected_at": None, "mitigated_at": None}
    )
    onset = Onset(ts=at(1), service="checkout", metric="errors")
    moments = key_moments(sparse, bundle.frames, onset)
    assert moments.impact_start == at(1)  # the metric onset
    assert moments.first_alert == moments.detection == at(4)  # the first alert
    assert moments.mitigation == at(28)  # the rollback


def alerts_frame(*rows: tuple[str, str, float, float | None]) -> pd.DataFrame:
    """Alerts (name, service, fired, ended) in minutes from the impact start, typed like the reader's."""
    return pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(len(rows))],
            "name": [r[0] for r in rows],
            "service": [r[1] for r in rows],
            "ts": pd.Series([at(r[2]) for r in rows], dtype="datetime64[ns, UTC]"),
            "ends_at": pd.Series(
                [at(r[3]) if r[3] is not None else None for r in rows], dtype="datetime64[ns, UTC]"
            ),
        }
    )


def test_first_alert_prefers_the_incident_services_then_any_relevant_alert(bundle: Bundle) -> None:
    onset = Onset(ts=at(1), service="payments")
    alerts = alerts_frame(
        ("Cron", "billing", 1, None), ("Errors", "payments", 3, 20), ("Errors", "web", 5, 20)
    )
    assert key_moments(bundle.incident, {"alerts": alerts}, onset).first_alert == at(3)  # the onset service
    others = alerts_frame(("Cron", "billing", 1, None), ("Errors", "search", 3, 20))
    assert key_moments(bundle.incident, {"alerts": others}, onset).first_alert == at(1)


def test_first_alert_skips_stale_and_flapping_alerts_unless_nothing_else_fired(bundle: Bundle) -> None:
    onset = Onset(ts=at(1), service="checkout")
    alerts = alerts_frame(
        ("Flappy", "web", -200, -190),  # the same alert fired hours before: noise that flaps all day
        ("Flappy", "web", -3, None),
        ("DiskFull", "checkout", -4, -1),  # over before the impact began
        ("Errors", "search", 2, 20),  # relevant, but not on a service of the incident
        ("Errors", "checkout", 30, 40),
        ("Errors", "checkout", 70, 80),  # after the resolution
    )
    assert key_moments(bundle.incident, {"alerts": alerts}, onset).first_alert == at(30)
    assert key_moments(bundle.incident, {"alerts": alerts.iloc[:4]}, onset).first_alert == at(2)
    only_noise = alerts.iloc[:3]
    assert key_moments(bundle.incident, {"alerts": only_noise}, onset).first_alert == at(-4)
    too_early = alerts_frame(("Errors", "checkout", -20, None))  # long before any metric moved
    assert key_moments(bundle.incident, {"alerts": too_early}, onset).first_alert is None


def test_key_moments_without_alerts_or_onset() -> None:
    incident = Incident(id="X", severity="SEV3", started_at=at(0), resolved_at=at(40))
    moments = key_moments(incident, {}, Onset())
    assert moments.first_alert is None and moments.detection is None and moments.first_anomaly is None
    assert moments.impact_start == at(0) and moments.resolution == at(40)


# ---------------------------------------------------------------- durations


def test_durations_in_seconds() -> None:
    moments = Moments(
        impact_start=at(0), detection=at(6), acknowledgement=at(9), mitigation=at(30), resolution=at(50)
    )
    assert compute_durations(moments) == Durations(
        time_to_detect=360.0, time_to_acknowledge=180.0, time_to_mitigate=1800.0, time_to_resolve=3000.0
    )


def test_durations_missing_ends_and_negative_values() -> None:
    moments = Moments(impact_start=at(10), detection=at(4), resolution=None)
    durations = compute_durations(moments)
    assert durations.time_to_detect == -360.0  # kept: the quality checks report the milestone order
    assert durations.time_to_acknowledge is None and durations.time_to_resolve is None
    assert compute_durations(Moments()) == Durations()


def test_every_duration_has_a_versioned_definition() -> None:
    assert set(Durations.model_fields) <= DURATION_DEFINITIONS.keys()
    assert DURATION_DEFINITIONS["version"]
    assert all(isinstance(v, str) and "\n" not in v for v in DURATION_DEFINITIONS.values())
