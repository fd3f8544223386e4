"""Gap finding: each kind on small synthetic frames where the truth is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from connectors.bundle_format import DATASETS, empty_frame
from postmortem.model import Gap, Incident, Moments, Topology
from tasks.gaps import find_gaps

START = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
TOPOLOGY = Topology(services={"web": ["api"], "api": ["db"], "db": []})
ALL_FILES = {spec.file for spec in DATASETS.values()} | {"incident.json", "topology.json"}


def at(minutes: float) -> datetime:
    """A time relative to the impact start."""
    return START + timedelta(minutes=minutes)


INCIDENT = Incident(
    id="INC-9", severity="SEV2", services=["web", "api"], started_at=at(0), resolved_at=at(60)
)
MOMENTS = Moments(impact_start=at(0), first_alert=at(3), detection=at(4), resolution=at(60))


def frame(dataset: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An evidence frame shaped like the bundle reader's output."""
    spec = DATASETS[dataset]
    if not rows:
        return empty_frame(spec)
    data = pd.DataFrame(rows)
    for col in spec.columns:
        if col not in data:
            data[col] = None
    for col in spec.timestamps:
        data[col] = pd.to_datetime(data[col], utc=True).astype("datetime64[ns, UTC]")
    data["_line"] = np.arange(1, len(data) + 1)
    return data


def points(service: str, minutes: np.ndarray) -> list[dict[str, Any]]:
    """Metric points of one service at the given minutes."""
    return [{"ts": at(float(m)), "service": service, "metric": "rps", "value": 1.0} for m in minutes]


def telemetry(**extra: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Metrics for web and api every minute from two hours before to after the incident; nothing else."""
    minutes = np.arange(-120, 90)
    frames = {name: empty_frame(spec) for name, spec in DATASETS.items()}
    frames["metrics"] = frame("metrics", points("web", minutes) + points("api", minutes))
    frames["alerts"] = frame("alerts", [alert("a1", 3, labels={"runbook_url": "https://wiki/r"})])
    return frames | extra


def alert(id: str, minutes: float, **fields: Any) -> dict[str, Any]:
    """A firing alert on web."""
    return {"id": id, "ts": at(minutes), "name": "HighErrorRate", "service": "web"} | fields


def of_kind(gaps: list[Gap], kind: str) -> list[Gap]:
    """The gaps of one kind."""
    return [g for g in gaps if g.kind == kind]


def test_missing_and_empty_sources() -> None:
    frames = telemetry()
    present = ALL_FILES - {"logs.jsonl", "topology.json"}  # chat.jsonl is there but empty
    gaps = find_gaps(INCIDENT, frames, present, MOMENTS, Topology())
    missing = {g.source: g.detail for g in of_kind(gaps, "missing_source")}
    assert missing.keys() == {"logs", "commits", "deploys", "chat", "tickets", "topology"}
    assert missing["logs"].startswith("logs.jsonl is absent")
    assert missing["chat"].startswith("chat.jsonl is empty")
    assert "causes from symptoms" in missing["topology"]


def test_complete_evidence_has_no_gaps() -> None:
    frames = telemetry(
        logs=frame("logs", [{"ts": at(m), "service": s} for m in range(-120, 90) for s in ("web", "api")])
    )
    for name in ("commits", "deploys", "chat", "tickets"):
        frames[name] = frame(name, [{"ts": at(-10), "id": "x", "sha": "0" * 40, "key": "T-1"}])
    assert find_gaps(INCIDENT, frames, ALL_FILES, MOMENTS, TOPOLOGY) == []


def test_silent_period_in_metrics_names_service_and_span() -> None:
    minutes = np.arange(-120, 90)
    holed = minutes[(minutes < 20) | (minutes > 40)]  # 21 minutes without api metrics
    short = minutes[(minutes < 50) | (minutes > 53)]  # 4 minutes: below the 5-minute floor
    frames = telemetry(metrics=frame("metrics", points("web", short) + points("api", holed)))
    (gap,) = of_kind(find_gaps(INCIDENT, frames, ALL_FILES, MOMENTS, TOPOLOGY), "silent_period")
    assert (gap.source, gap.service, gap.start, gap.end) == ("metrics", "api", at(19), at(41))
    assert "no metrics from api between 09:19Z and 09:41Z" in gap.detail
    assert "22 min" in gap.detail and "every 1 min" in gap.detail


def test_source_that_stops_during_the_incident_is_silent_to_the_end() -> None:
    logs = [{"ts": at(m / 2), "service": "api"} for m in range(-240, 20)]  # every 30 s, stops at +10 min
    frames = telemetry(logs=frame("logs", logs))
    gaps = of_kind(find_gaps(INCIDENT, frames, ALL_FILES, MOMENTS, TOPOLOGY), "silent_period")
    assert [(g.source, g.service, g.start, g.end) for g in gaps] == [("logs", "api", at(9.5), at(60))]
    assert "up to the end of the incident" in gaps[0].detail


def test_bursty_logs_are_judged_against_their_own_quiet_spells() -> None:
    rng = np.random.default_rng(4)
    stamps = np.cumsum(rng.exponential(1.5, 400)) - 300  # Poisson-like, 1.5 min mean
    stamps = stamps[stamps < 90]
    during = np.diff(stamps[(stamps > -10) & (stamps < 70)])
    assert (during > 5 * np.median(np.diff(stamps[stamps < 0]))).sum() >= 2  # 5x the median alone would fire
    healthy = frame("logs", [{"ts": at(float(m)), "service": "api"} for m in stamps])
    gaps = find_gaps(INCIDENT, telemetry(logs=healthy), ALL_FILES, MOMENTS, TOPOLOGY)
    assert of_kind(gaps, "silent_period") == []
    outage = frame("logs", [{"ts": at(float(m)), "service": "api"} for m in stamps if not 10 < m < 50])
    (gap,) = of_kind(
        find_gaps(INCIDENT, telemetry(logs=outage), ALL_FILES, MOMENTS, TOPOLOGY), "silent_period"
    )
    assert gap.service == "api" and gap.start <= at(10) and gap.end >= at(50)


def test_no_telemetry_for_an_incident_service() -> None:
    incident = INCIDENT.model_copy(update={"services": ["web", "api", "db"]})
    (gap,) = of_kind(
        find_gaps(incident, telemetry(), ALL_FILES, MOMENTS, TOPOLOGY), "no_telemetry_for_service"
    )
    assert gap.service == "db"
    assert "db (called by api)" in gap.detail and "no metrics and no logs" in gap.detail


def test_detection_lag_when_people_noticed_first() -> None:
    moments = MOMENTS.model_copy(update={"first_alert": at(12), "detection": at(4)})
    (gap,) = of_kind(find_gaps(INCIDENT, telemetry(), ALL_FILES, moments, TOPOLOGY), "detection_lag")
    assert (gap.start, gap.end) == (at(4), at(12))
    assert "8 min after detection" in gap.detail
    within = MOMENTS.model_copy(update={"first_alert": at(4.5), "detection": at(4)})  # recorded to the minute
    assert not of_kind(find_gaps(INCIDENT, telemetry(), ALL_FILES, within, TOPOLOGY), "detection_lag")


def test_detection_lag_when_no_alert_fired() -> None:
    moments = MOMENTS.model_copy(update={"first_alert": None})
    (gap,) = of_kind(find_gaps(INCIDENT, telemetry(), ALL_FILES, moments, TOPOLOGY), "detection_lag")
    assert "no alert fired" in gap.detail and "09:04Z" in gap.detail


def test_late_detection() -> None:
    late = MOMENTS.model_copy(update={"first_alert": at(20), "detection": at(20)})
    (gap,) = of_kind(find_gaps(INCIDENT, telemetry(), ALL_FILES, late, TOPOLOGY), "late_detection")
    assert (gap.start, gap.end) == (at(0), at(20)) and "20 min after" in gap.detail
    assert not of_kind(find_gaps(INCIDENT, telemetry(), ALL_FILES, MOMENTS, TOPOLOGY), "late_detection")


def test_missing_runbook_per_alert_name() -> None:
    alerts = frame(
        "alerts",
        [
            alert("a1", 3, labels={"runbook_url": "https://wiki/r"}),
            alert("a2", 5, name="HighLatency", labels={"team": "web"}),
            alert("a3", 9, name="HighLatency", service="api", labels={}),
            alert("a4", 6, name="PodCrash", runbook="https://wiki/pods"),  # an extra top-level field
            alert("a5", 7, name="QueueLag", annotations={"runbook": "https://wiki/q"}),
            alert("a6", -300, ends_at=at(-290), name="Old", labels={}),  # over long before the incident
            alert("a7", 8, name="Elsewhere", service="billing"),  # not a service of the incident
        ],
    )
    frames = telemetry(alerts=alerts)
    (gap,) = of_kind(find_gaps(INCIDENT, frames, ALL_FILES, MOMENTS, TOPOLOGY), "missing_runbook")
    assert gap.start == at(5) and gap.service is None
    assert gap.detail.startswith("alert HighLatency fired 2 times on api, web during the incident")


def test_gaps_are_ordered_by_kind_then_time() -> None:
    moments = MOMENTS.model_copy(update={"first_alert": None, "detection": at(30)})
    gaps = find_gaps(INCIDENT, telemetry(), {"incident.json"}, moments, Topology())
    kinds = [g.kind for g in gaps]
    assert kinds == sorted(kinds, key=["missing_source", "late_detection", "detection_lag"].index)
