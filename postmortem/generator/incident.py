"""The incident record (`incident.json`): milestones, severity, impact, people and summary."""

from __future__ import annotations

import numpy as np

from postmortem.generator.changes import iso
from postmortem.generator.story import Story


def build_incident(rng: np.random.Generator, story: Story) -> dict:
    """The incident as the on-call tool would export it once resolved."""
    sc, graph = story.scenario, story.graph
    title = story.fmt(sc.titles[int(rng.integers(len(sc.titles)))])
    edge = story.ctx["edge"]
    rps = float(rng.uniform(800, 3000))
    error_share = story.effects.get(edge, {}).get("errors", 0.01)
    impact_s = (story.mitigated - story.onset).total_seconds()
    failed = int(rps * error_share * impact_s * 0.8)
    budget = rps * 30 * 86400 * 0.001
    owner = story.root if graph.kinds[story.root] != "provider" else story.ctx["caller"]
    return {
        "id": story.incident_id,
        "title": title,
        "severity": story.severity,
        "status": "resolved",
        "services": sorted(story.affected),
        "started_at": iso(story.onset.replace(second=0)),
        "detected_at": iso(story.detected),
        "acknowledged_at": iso(story.acknowledged),
        "mitigated_at": iso(story.mitigated),
        "resolved_at": iso(story.resolved),
        "commander": story.people["commander"],
        "team": graph.teams[owner],
        "summary": story.fmt(sc.summary),
        "impact": {
            "users_affected": int(failed / rng.uniform(3, 12)),
            "requests_failed": failed,
            "slo": f"{edge} availability 99.9% over 30 days",
            "error_budget_burned_pct": round(100 * failed / budget, 1),
            "duration_minutes": round(impact_s / 60),
        },
        "tags": [*sc.tags, story.root],
    }
