"""Alerts: the incident's alerts (with flapping) on affected services, and unrelated noise."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from postmortem.generator.changes import iso
from postmortem.generator.noise import hex_list
from postmortem.generator.story import Story, minutes
from postmortem.generator.vocab import NOISE_ALERTS


def _episodes(rng: np.random.Generator, start: datetime, end: datetime, flappy: bool) -> list[tuple]:
    """(start, end) firing periods from `start` to `end`, split by short resolves when flapping."""
    if not flappy or end - start < timedelta(minutes=6):
        return [(start, end)]
    out = []
    t = start
    for _ in range(int(rng.integers(2, 5))):
        stop = t + minutes(rng, 2, 10)
        if stop >= end - timedelta(minutes=2):
            break
        out.append((t, stop))
        t = stop + minutes(rng, 1, 4)
    out.append((t, end))
    return out


def build_alerts(rng: np.random.Generator, story: Story, noise: int | None) -> list[dict]:
    """Alert records sorted by time; sets `alert_name` and `first_alert_service` in the story context."""
    rows = _incident_alerts(rng, story)
    rows += _noise_alerts(rng, story, int(rng.integers(60, 140)) if noise is None else noise)
    ids = hex_list(rng, len(rows), 12)
    graph, org = story.graph, story.org
    out = []
    for (name, service, severity, start, end, runbook, summary), alert_id in zip(rows, ids, strict=True):
        pods = story.pods[service]
        labels = {
            "alertname": name,
            "service": service,
            "severity": severity,
            "team": graph.teams[service],
            "env": "production",
            "instance": pods[int(rng.integers(len(pods)))],
        }
        if runbook:
            labels["runbook_url"] = f"https://wiki.{org}.example.com/runbooks/{name}"
        out.append(
            {
                "id": alert_id,
                "ts": iso(start),
                "ends_at": iso(end) if end is not None else None,
                "name": name,
                "service": service,
                "severity": severity,
                "status": "resolved" if end is not None else "firing",
                "labels": labels,
                "url": f"https://grafana.{org}.example.com/alerting/{alert_id}/view",
                "summary": summary,
            }
        )
    return sorted(out, key=lambda a: (a["ts"], a["id"]))


def _incident_alerts(rng: np.random.Generator, story: Story) -> list[tuple]:
    """The page at detection time, then alerts on each affected service while it is impaired."""
    graph, root = story.graph, story.root
    pager = root if graph.kinds[root] == "app" else story.ctx["caller"]
    story.ctx["alert_name"] = "HighErrorRate"
    story.ctx["first_alert_service"] = pager
    rows = []
    for service in story.affected:
        names = graph.metric_names(service)
        end = story.recovery[service] + minutes(rng, 1, 8)
        onset = story.service_onset[service]
        rules = [
            ("HighErrorRate", "critical" if service in (pager, root) else "warning", names["errors"], True)
        ]
        rules.append(("HighLatencyP99", "warning", names["latency"], False))
        if graph.kinds[service] == "edge":
            rules.append(("SLOBurnRateFast", "critical", "availability SLO", True))
        if graph.kinds[service] == "provider":
            rules.append(("SyntheticCheckFailed", "warning", f"{service} synthetic check", False))
        for name, severity, metric, runbook in rules:
            if service == pager and name == "HighErrorRate":
                start = story.first_alert
            elif severity == "critical":
                start = story.first_alert + minutes(rng, 0.3, 5)
            else:
                start = max(onset + minutes(rng, 1, 8), story.onset + timedelta(seconds=30))
            if rng.random() < 0.15 and service != pager:
                continue  # not every rule exists for every service
            for a, b in _episodes(rng, start, end, rng.random() < 0.6):
                rows.append(
                    (name, service, severity, a, b, runbook, f"{metric} above threshold on {service}")
                )
    if story.precursor is not None and "saturation" in graph.metric_names(root):
        start = story.precursor + (story.onset - story.precursor) * 0.7
        metric = graph.metric_names(root)["saturation"]
        for a, b in _episodes(rng, start, story.recovery[root], True):
            rows.append(("SaturationHigh", root, "warning", a, b, False, f"{metric} above 80% on {root}"))
    return rows


def _noise_alerts(rng: np.random.Generator, story: Story, count: int) -> list[tuple]:
    """Unrelated alerts across the window, some flapping in short trains, one or two still firing."""
    services = [s for s in story.graph.services if story.graph.kinds[s] != "provider"]
    span = (story.window_end - story.window_start).total_seconds()
    rows: list[tuple] = []
    while len(rows) < count:
        name, severity, runbook = NOISE_ALERTS[int(rng.integers(len(NOISE_ALERTS)))]
        service = services[int(rng.integers(len(services)))]
        start = story.window_start + timedelta(seconds=round(float(rng.uniform(0, span * 0.95))))
        for _ in range(int(rng.integers(1, 5)) if rng.random() < 0.35 else 1):
            if start >= story.window_end:
                break
            end = start + minutes(rng, 1, 25)
            if end > story.window_end:
                end = None
            rows.append((name, service, severity, start, end, runbook, f"{name} on {service}"))
            if end is None:
                break
            start = end + minutes(rng, 1, 10)
    return rows[:count]
