"""Service ranking: which service the incident began in, from metric onsets, log signals and the call graph.

The root is the earliest anomalous service whose own dependencies look healthy. A service is anomalous
when one of its metric series has a sustained deviation (`tasks.onset.detect_onsets`); a service without
any metric data is anomalous when one of its log templates bursts or appears new in the incident window
(`tasks.log_patterns`), so that a gap in the metrics does not hide it. Significant services (a series
past the overall-onset floors, or a log pattern past LOG_FLOOR) date the propagation.

A deviation propagates from a service to a caller when the caller deviates at most LINK_WINDOW after it
(or up to DEPENDENCY_SKEW before: sampling skew). A dependency that deviated earlier than that did not
cause this service's deviation (a blip long before the cascade), and an anomaly that no propagation
links to any other is left out of the reference time below.

    score      = size * timing * dependency * breadth
    size       = the service's largest deviation score (series, or log pattern for a service without metrics)
    timing     = 0.5 + 0.5 * exp(-delay / TIMING_DECAY), delay = its onset - the reference (the earliest
                 onset among the significant services linked by propagation, else among all of them);
                 services whose onsets fall on the same metric sample are ordered by their first NEW error
                 log line (logs are timed to the millisecond, samples to the scrape interval): each gets the
                 delay of its first such line after the earliest one's (none for a service without one)
    dependency = DOWNSTREAM_FACTOR when a significant dependency's deviation propagated to it (it is likely
                 a symptom), else 1
    breadth    = 1 - EXPLAINS_WEIGHT + EXPLAINS_WEIGHT * explains, explains = the share of the other
                 significant services its deviation propagated to, directly or through other callers

Each candidate's evidence says when it deviated against its callers, how its dependencies looked, the
propagation path it explains (root -> caller -> caller ...), its first new log template and its largest
deviation. Services of the incident without any signal follow with score 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from postmortem.model import Incident, LogPattern, MetricCandidate, ServiceCandidate, Topology
from tasks.onset import significant

# Provisional until the evaluation harness calibrates them.
DEPENDENCY_SKEW = timedelta(minutes=2)  # a dependency deviating up to this long after a service is "first"
LINK_WINDOW = timedelta(minutes=5)  # a caller deviating up to this long after a dependency inherited it
TIMING_DECAY = timedelta(minutes=2)  # about one hop of propagation (timeouts, retries, queues filling)
DOWNSTREAM_FACTOR = 0.35  # a service whose dependency deviated first is likely a symptom
EXPLAINS_WEIGHT = 0.25  # share of the score for explaining the other anomalous services as its callers
LOG_FLOOR = 0.5  # a log pattern dates a service from this score (a new or bursting warning/error) ...
LOG_MIN_LINES = 3  # ... and this many lines in the incident window
NO_SIGNAL_SCORE = 0.0
TEMPLATE_CHARS = 80  # templates are cut to this length in evidence text


@dataclass(frozen=True)
class _Signal:
    """What made a service anomalous: its earliest onset, its largest deviation and its first new log."""

    onset: datetime
    first: str  # what deviated first: a metric name, or `log template '...'`
    size: float
    biggest: str
    significant: bool
    log_onset: datetime | None = None  # first line of its earliest significant new log template
    log_template: str | None = None
    log_lines: int = 0


def _cut(template: str) -> str:
    """A template short enough for evidence text."""
    return template if len(template) <= TEMPLATE_CHARS else template[: TEMPLATE_CHARS - 1] + "…"


def _metric_signals(candidates: Sequence[MetricCandidate]) -> dict[str, _Signal]:
    """Per service with a deviating series: its earliest onset (significant series first), largest score."""
    keep = {(c.service, c.metric) for c in significant(candidates)}
    by_service: dict[str, list[MetricCandidate]] = {}
    for c in candidates:
        if c.onset is not None:
            by_service.setdefault(c.service, []).append(c)
    signals: dict[str, _Signal] = {}
    for service, own in by_service.items():
        strong = [c for c in own if (c.service, c.metric) in keep]
        first = min(strong or own, key=lambda c: (c.onset, -c.score, c.metric))
        best = max(own, key=lambda c: (c.score, c.metric))
        signals[service] = _Signal(first.onset, first.metric, best.score, best.metric, bool(strong))
    return signals


def _strong_patterns(patterns: Sequence[LogPattern]) -> dict[str, list[LogPattern]]:
    """Per service, its log patterns that are strong enough to date it."""
    out: dict[str, list[LogPattern]] = {}
    for p in patterns:
        if p.service and p.score >= LOG_FLOOR and p.count >= LOG_MIN_LINES:
            out.setdefault(p.service, []).append(p)
    return out


def _with_logs(
    signals: dict[str, _Signal], patterns: Sequence[LogPattern], observed: Collection[str]
) -> dict[str, _Signal]:
    """Signals completed by the logs: the first new template of every service (for timing), and log-only
    anomalies for the services without any metric data."""
    out = dict(signals)
    for service, own in _strong_patterns(patterns).items():
        new = sorted((p for p in own if p.new), key=lambda p: (p.first_seen, -p.score, p.template))
        timing = (
            {"log_onset": new[0].first_seen, "log_template": new[0].template, "log_lines": new[0].count}
            if new
            else {}
        )
        if service in signals:
            out[service] = replace(signals[service], **timing)
        elif service not in observed:
            first = min(own, key=lambda p: (p.first_seen, -p.score, p.template))
            best = max(own, key=lambda p: (p.score, p.template))
            out[service] = _Signal(
                onset=first.first_seen,
                first=f"log template '{_cut(first.template)}'",
                size=best.score,
                biggest=f"log template '{_cut(best.template)}'",
                significant=True,
                **timing,
            )
    return out


def _delays(signals: Mapping[str, _Signal], reference: datetime | None) -> dict[str, float]:
    """Seconds from the reference onset, ordered within a metric sample by the first new error log."""
    if reference is None:
        return dict.fromkeys(signals, 0.0)
    first_log: dict[datetime, datetime] = {}
    for sig in signals.values():
        if sig.log_onset is not None:
            first_log[sig.onset] = min(first_log.get(sig.onset, sig.log_onset), sig.log_onset)
    delays = {}
    for service, sig in signals.items():
        delay = max((sig.onset - reference).total_seconds(), 0.0)
        if sig.log_onset is not None:
            delay += (sig.log_onset - first_log[sig.onset]).total_seconds()
        delays[service] = delay
    return delays


def _hm(ts: datetime) -> str:
    """Clock time for evidence text: HH:MMZ, or HH:MM:SSZ when the seconds matter."""
    return ts.strftime("%H:%MZ" if ts.second == 0 and ts.microsecond == 0 else "%H:%M:%SZ")


def _span(delta: timedelta) -> str:
    """A human duration: 45 s, 3 min, 1 h 5 min."""
    secs = round(abs(delta.total_seconds()))
    if secs < 60:
        return f"{secs} s"
    mins = round(secs / 60)
    return f"{mins} min" if mins < 60 else f"{mins // 60} h {mins % 60} min"


def _callers(topology: Topology) -> dict[str, list[str]]:
    """Reverse call graph: service -> the services that call it."""
    out: dict[str, list[str]] = {}
    for caller, callees in topology.services.items():
        for callee in callees:
            out.setdefault(callee, []).append(caller)
    return out


def _follows(caller: datetime, callee: datetime) -> bool:
    """Whether a caller deviating at `caller` plausibly inherited a dependency's deviation at `callee`."""
    return -DEPENDENCY_SKEW <= caller - callee <= LINK_WINDOW


def _links(onsets: Mapping[str, datetime], callers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Plausible propagation: anomalous service -> its anomalous callers that deviated in turn."""
    return {
        callee: sorted(c for c in callers.get(callee, []) if c in onsets and _follows(onsets[c], when))
        for callee, when in onsets.items()
    }


def _reached(service: str, links: Mapping[str, list[str]]) -> set[str]:
    """Every service the deviation of `service` plausibly propagated to (transitively)."""
    seen: set[str] = set()
    todo = list(links.get(service, []))
    while todo:
        svc = todo.pop()
        if svc not in seen and svc != service:
            seen.add(svc)
            todo.extend(links.get(svc, []))
    return seen


def _propagation(root: str, links: Mapping[str, list[str]]) -> list[str]:
    """Longest chain root -> caller -> caller ... of plausible propagation."""

    def walk(service: str, seen: frozenset[str]) -> list[str]:
        best: list[str] = []
        for caller in links.get(service, []):
            if caller not in seen:
                path = walk(caller, seen | {caller})
                if len(path) > len(best):
                    best = path
        return [service, *best]

    return walk(root, frozenset({root}))


def _timing_text(sig: _Signal, later_callers: list[tuple[datetime, str]]) -> str:
    """`http_error_rate deviated at 10:02Z, 3 min before its caller checkout` (the caller part when known)."""
    text = f"{sig.first} deviated at {_hm(sig.onset)}"
    if not later_callers:
        return text
    when, caller = later_callers[0]
    lead = when - sig.onset
    if lead == timedelta(0):
        return text + f", at the same time as its caller {caller}"
    return text + f", {_span(lead)} {'before' if lead > timedelta(0) else 'after'} its caller {caller}"


def _dependency_text(
    deps: list[str] | None, sick: list[str], early: list[str], onsets: Mapping[str, datetime], own: datetime
) -> str:
    """What the services it calls looked like when it deviated."""
    if deps is None:
        return "not in the topology: its dependencies are unknown"
    if not deps:
        return "it calls no other service"
    if sick:
        first = min(sick, key=lambda d: (onsets[d], d))
        return f"its dependency {first} deviated first, at {_hm(onsets[first])}: likely a symptom"
    healthy = f"its dependency {deps[0]} looks healthy" if len(deps) == 1 else "its dependencies look healthy"
    if early:
        first = min(early, key=lambda d: (onsets[d], d))
        return (
            f"{healthy} at the time: {first} deviated {_span(own - onsets[first])} earlier, "
            "too early to have caused it"
        )
    return healthy if len(deps) == 1 else f"its dependencies {', '.join(sorted(deps))} look healthy"


def rank_services(
    candidates: Sequence[MetricCandidate],
    topology: Topology,
    incident: Incident,
    patterns: Sequence[LogPattern] = (),
    observed: Collection[str] = (),
) -> list[ServiceCandidate]:
    """Services ranked as the likely origin: early, strongly deviating, with healthy dependencies.

    `patterns` are the incident's ranked log patterns; `observed` the services that have metric data
    (log patterns make a service anomalous only when it has none).
    """
    signals = _with_logs(_metric_signals(candidates), patterns, observed)
    strong = {s: sig.onset for s, sig in signals.items() if sig.significant}
    callers = _callers(topology)
    links = _links({s: sig.onset for s, sig in signals.items()}, callers)
    strong_links = _links(strong, callers)
    linked = {s for s, cs in strong_links.items() if cs} | {c for cs in strong_links.values() for c in cs}
    reference = min((strong[s] for s in linked), default=min(strong.values(), default=None))
    delays = _delays(signals, reference)
    ranked: list[ServiceCandidate] = []
    for service, sig in signals.items():
        deps = topology.services.get(service)
        sick = [d for d in deps or [] if d in strong and d != service and service in links[d]]
        early = [d for d in deps or [] if d in strong and strong[d] < sig.onset - LINK_WINDOW]
        later_callers = sorted((signals[c].onset, c) for c in links[service] if c in strong)
        evidence = [_timing_text(sig, later_callers)]
        if sig.log_template is not None and sig.log_onset is not None:
            when, template = _hm(sig.log_onset), _cut(sig.log_template)
            evidence.append(f"new log template from {when}: '{template}' ({sig.log_lines} lines)")
        evidence.append(_dependency_text(deps, sick, early, strong, sig.onset))
        reached = _reached(service, links) & strong.keys()
        others = len(strong) - (service in strong)
        explains = len(reached) / others if others else 1.0
        if sig.significant and not sick:
            path = _propagation(service, strong_links)
            if len(path) > 1:
                evidence.append("propagation path: " + " -> ".join(path))
        if not sig.significant:
            evidence.append("its deviation is small compared with the other services")
        evidence.append(f"largest deviation score {sig.size:.2f} ({sig.biggest})")
        timing = 0.5 + 0.5 * float(np.exp(-delays[service] / TIMING_DECAY.total_seconds()))
        dependency = DOWNSTREAM_FACTOR if sick else 1.0
        breadth = 1 - EXPLAINS_WEIGHT + EXPLAINS_WEIGHT * explains
        score = sig.size * timing * dependency * breadth
        ranked.append(ServiceCandidate(service=service, score=round(score, 4), evidence=evidence))
    ranked.sort(key=lambda c: (-c.score, signals[c.service].onset, c.service))
    ranked += [
        ServiceCandidate(
            service=service,
            score=NO_SIGNAL_SCORE,
            evidence=["no sustained metric deviation and no log burst (no data, or nothing deviating)"],
        )
        for service in dict.fromkeys(incident.services)
        if service not in signals
    ]
    return ranked
