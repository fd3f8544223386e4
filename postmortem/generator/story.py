"""The skeleton of one incident: topology, root service, milestones, impact sizes, people and names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from postmortem.generator.noise import alnum_strings
from postmortem.generator.scenarios import Scenario
from postmortem.generator.topology import ServiceGraph, build_topology
from postmortem.generator.vocab import ORGS, PEOPLE

BASE_DATE = datetime(2026, 1, 5, tzinfo=UTC)
ROLES = ("oncall", "commander", "responder", "owner", "support")


@dataclass
class Story:
    """Everything the evidence generators agree on."""

    scenario: Scenario
    incident_id: str
    org: str
    graph: ServiceGraph
    root: str
    hops: dict[str, int]
    service_onset: dict[str, datetime]
    effects: dict[str, dict[str, float]]
    window_start: datetime
    window_end: datetime
    onset: datetime
    first_alert: datetime
    acknowledged: datetime
    mitigated: datetime
    resolved: datetime
    recovery: dict[str, datetime]
    rise_s: float
    recovery_s: float
    people: dict[str, str]
    severity: str
    ctx: dict[str, str] = field(default_factory=dict)
    precursor: datetime | None = None
    change_ts: datetime | None = None
    decoy_service: str = ""
    decoy_ts: datetime | None = None
    versions: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    pods: dict[str, list[str]] = field(default_factory=dict)

    @property
    def detected(self) -> datetime:
        """Detection is the first paging alert."""
        return self.first_alert

    @property
    def callers(self) -> list[str]:
        """Affected services other than the root, nearest first."""
        return sorted((s for s in self.hops if s != self.root), key=lambda s: (self.hops[s], s))

    @property
    def affected(self) -> list[str]:
        """Root and every affected caller, nearest first."""
        return [self.root, *self.callers]

    def fmt(self, template: str, /, **extra: str) -> str:
        """Fill a scenario template from the story context."""
        return template.format_map({**self.ctx, **extra})


def minutes(rng: np.random.Generator, lo: float, hi: float) -> timedelta:
    """A random duration between `lo` and `hi` minutes, whole seconds."""
    return timedelta(seconds=round(float(rng.uniform(lo, hi)) * 60))


def hm(ts: datetime) -> str:
    """HH:MM of a UTC time, as people write it in chat."""
    return ts.strftime("%H:%M")


def build_story(rng: np.random.Generator, scenario: Scenario, incident_id: str | None) -> Story:
    """Draw the incident skeleton for `scenario`."""
    graph = build_topology(rng)
    candidates = graph.of_kind(*scenario.root_kinds) or graph.of_kind("app")
    root = candidates[int(rng.integers(len(candidates)))]
    hops = graph.upstream_hops(root)

    onset = BASE_DATE + timedelta(days=int(rng.integers(0, 330)), seconds=int(rng.integers(0, 86400)))
    window_start = (onset - minutes(rng, 240, 330)).replace(second=0)
    alert_lead = (3.0, 12.0) if scenario.precursor_h else (1.5, 8.0)
    first_alert = onset + minutes(rng, *alert_lead)
    acknowledged = first_alert + minutes(rng, 1, 7)
    mitigated = acknowledged + minutes(rng, 18, 50)
    resolved = mitigated + minutes(rng, 15, 70)
    window_end = resolved + minutes(rng, 10, 25)

    service_onset = {root: onset}
    for service in sorted(hops, key=lambda s: (hops[s], s))[1:]:
        parent_delay = max(
            (service_onset[c] for c in graph.calls[service] if c in service_onset), default=onset
        )
        service_onset[service] = parent_delay + timedelta(seconds=round(float(rng.uniform(15, 120))))
    attenuation = float(rng.uniform(0.5, 0.85))
    effects = {root: {role: float(rng.uniform(lo, hi)) for role, (lo, hi) in scenario.root_effects.items()}}
    caller_base = {role: float(rng.uniform(lo, hi)) for role, (lo, hi) in scenario.caller_effects.items()}
    for service, hop in hops.items():
        if service != root:
            effects[service] = {role: size * attenuation ** (hop - 1) for role, size in caller_base.items()}

    recovery = {s: mitigated + timedelta(seconds=round(float(rng.uniform(0, 90)))) for s in hops}
    if scenario.culprit_kind == "dependency":
        recovery[root] = max(mitigated, resolved - minutes(rng, 5, 20))

    people_idx = rng.choice(len(PEOPLE), size=len(ROLES) + 4, replace=False)
    people = {role: PEOPLE[i] for role, i in zip(ROLES, people_idx, strict=False)}
    people.update({f"extra{k}": PEOPLE[i] for k, i in enumerate(people_idx[len(ROLES) :])})
    errors = effects[root].get("errors", 0.0)
    severity = "SEV1" if errors > 0.25 else "SEV2" if errors > 0.1 else "SEV3"
    year = onset.year
    story = Story(
        scenario=scenario,
        incident_id=incident_id or f"INC-{year}-{int(rng.integers(1000, 9999))}",
        org=ORGS[int(rng.integers(len(ORGS)))],
        graph=graph,
        root=root,
        hops=hops,
        service_onset=service_onset,
        effects=effects,
        window_start=window_start,
        window_end=window_end,
        onset=onset,
        first_alert=first_alert,
        acknowledged=acknowledged,
        mitigated=mitigated,
        resolved=resolved,
        recovery=recovery,
        rise_s=float(rng.uniform(*scenario.rise_s)),
        recovery_s=float(rng.uniform(60, 240)),
        people=people,
        severity=severity,
    )
    if scenario.precursor_h:
        story.precursor = onset - minutes(rng, scenario.precursor_h[0] * 60, scenario.precursor_h[1] * 60)
    if scenario.change_kind:
        story.change_ts = onset - minutes(rng, *scenario.change_lead_min)
    story.versions = {
        s: (int(rng.integers(1, 6)), int(rng.integers(0, 40)), int(rng.integers(0, 12)))
        for s in graph.services
    }
    story.pods = {s: _pods(rng, s, k) for s, k in graph.kinds.items()}
    _pick_decoy(rng, story)
    story.ctx = _context(rng, story)
    return story


def _pods(rng: np.random.Generator, service: str, kind: str) -> list[str]:
    """Instance names: Kubernetes pods for apps, numbered replicas for datastores, none for providers."""
    if kind == "provider":
        return [service]
    if kind in ("db", "cache"):
        return [f"{service}-{i}" for i in range(int(rng.integers(2, 4)))]
    rs = alnum_strings(rng, 1, 10).to_pylist()[0]
    return [
        f"{service}-{rs}-{suffix}" for suffix in alnum_strings(rng, int(rng.integers(3, 7)), 5).to_pylist()
    ]


def _pick_decoy(rng: np.random.Generator, story: Story) -> None:
    """An innocent change near the onset to a service off the failing path (or downstream of it)."""
    deployable = story.graph.of_kind("edge", "gateway", "app")
    pool = [s for s in deployable if s not in story.hops] or [s for s in deployable if s != story.root]
    story.decoy_service = pool[int(rng.integers(len(pool)))]
    if story.scenario.change_kind is None:
        story.decoy_ts = story.onset - minutes(rng, 3, 20)
    elif rng.random() < 0.5:
        story.decoy_ts = story.onset - minutes(rng, 25, 70)
    else:
        story.decoy_ts = story.onset + minutes(rng, 2, 12)


def version_text(version: tuple[int, int, int]) -> str:
    """Semantic version as text."""
    return "v{}.{}.{}".format(*version)


def _context(rng: np.random.Generator, story: Story) -> dict[str, str]:
    """Names and numbers the scenario templates refer to."""
    sc, graph, root = story.scenario, story.graph, story.root
    callers = story.callers
    caller = min(graph.callers(root), default=root)
    callees = graph.calls[root]
    major, minor, patch = story.versions[root]
    decoy_version = story.versions[story.decoy_service]
    names = graph.metric_names(root)
    replicas = int(rng.integers(3, 13))
    ctx = {
        "root": root,
        "Root": root[:1].upper() + root[1:],
        "edge": graph.of_kind("edge")[0],
        "gateway": graph.of_kind("gateway")[0],
        "caller": caller,
        "callers": ", ".join(callers) or "no other service",
        "callee": callees[int(rng.integers(len(callees)))] if callees else "its datastore",
        "capability": graph.capability(caller if graph.kinds[root] in ("db", "cache", "provider") else root),
        "incident_id": story.incident_id,
        "severity": story.severity,
        "actor": story.people["owner"],
        "version": f"v{major}.{minor + 1}.0",
        "prev_version": version_text((major, minor, patch)),
        "decoy_service": story.decoy_service,
        "decoy_version": version_text((decoy_version[0], decoy_version[1] + 1, 0)),
        "decoy_hm": hm(story.decoy_ts) if story.decoy_ts else "",
        "onset_hm": hm(story.onset),
        "mitigated_hm": hm(story.mitigated),
        "resolved_hm": hm(story.resolved),
        "change_hm": hm(story.change_ts) if story.change_ts else "",
        "lead_min": str(round((story.onset - story.change_ts).total_seconds() / 60))
        if story.change_ts
        else "",
        "precursor_hm": hm(story.precursor) if story.precursor else "",
        "growth_pct": str(int(rng.integers(40, 160))),
        "pct_failed": str(max(1, round(100 * story.effects[root].get("errors", 0.0)))),
        "rollback_min": str(int(rng.integers(8, 25))),
        "error_metric": names["errors"],
        "sat_metric": names.get("saturation", names["latency"]),
        "fallback": "secondary" if graph.kinds[root] != "provider" else "backup provider",
        "replicas": str(replicas),
        "replicas_after": str(replicas * 2),
        "alert_name": "",
        "first_alert_service": root,
    }
    for key, options in sc.variants.items():
        ctx[key] = options[int(rng.integers(len(options)))].replace("{root}", root)
    if "config_spec" in ctx:
        ctx["config_key"], ctx["old_value"], ctx["new_value"] = ctx.pop("config_spec").split("|")
    if "migration_spec" in ctx:
        table = root.removesuffix("-db").replace("-", "_")
        slug, statement = ctx.pop("migration_spec").replace("{table}", table).split("|")
        ctx["table"], ctx["statement"] = table, statement
        ctx["migration"] = f"V{int(rng.integers(100, 400))}__{slug}"
    return ctx
