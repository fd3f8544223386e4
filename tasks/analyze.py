"""The whole analysis of one incident bundle as one pure function (no Prefect, no publishing)."""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pydantic import TypeAdapter

from connectors.bundle import Bundle
from postmortem.model import Analysis, PastIncident, QualityResult, RootCause, TimelineEvent
from tasks.changes import correlate_changes
from tasks.clean import clean_frames
from tasks.gaps import find_gaps
from tasks.gate import gate_actions
from tasks.log_patterns import mine_log_patterns
from tasks.onset import detect_onsets, overall_onset
from tasks.quality import build_policy, check_quality, cross_source_checks, quality_settings
from tasks.services import rank_services
from tasks.similar import find_similar
from tasks.timeline import build_timeline, compute_durations, key_moments

_EVENTS = TypeAdapter(list[TimelineEvent])


@contextmanager
def _timed(sink: MutableMapping[str, float] | None, step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    if sink is not None:
        sink[step] = sink.get(step, 0.0) + time.perf_counter() - start


def analyze(
    bundle: Bundle,
    *,
    history: Sequence[PastIncident] = (),
    quality: Sequence[QualityResult] | None = None,
    now: datetime | None = None,
    timings: MutableMapping[str, float] | None = None,
) -> Analysis:
    """Validate, clean and analyse a bundle into the DESIGN 6.2 document (step timings into `timings`)."""
    incident, topology = bundle.incident, bundle.topology
    with _timed(timings, "quality"):
        settings = quality_settings()
        policy = build_policy(settings)
        if quality is None:
            quality = check_quality(bundle, settings=settings, policy=policy)
    with _timed(timings, "clean"):
        frames, quarantine = clean_frames(bundle.frames, incident)
    with _timed(timings, "metrics"):
        metrics = detect_onsets(frames["metrics"], incident)
        onset = overall_onset(metrics)
    with _timed(timings, "quality"):
        cross = cross_source_checks(frames, incident, metrics, settings, policy)
    with _timed(timings, "logs"):
        patterns = mine_log_patterns(frames["logs"], incident, onset)
    with _timed(timings, "services"):
        observed = frames["metrics"]["service"].dropna().unique()
        services = rank_services(metrics, topology, incident, patterns, observed=set(observed))
        onset = overall_onset(metrics, services[0].service if services else None)  # dated by the root
    with _timed(timings, "changes"):
        attribution = correlate_changes(
            frames["deploys"], frames["commits"], incident, onset, services, topology
        )
    with _timed(timings, "timeline"):
        timeline = build_timeline(incident, frames, metrics, patterns)
        moments = key_moments(incident, frames, onset)
        gaps = find_gaps(incident, frames, bundle.present, moments, topology)
        events = _EVENTS.validate_python(
            timeline.astype(object).where(timeline.notna(), None).to_dict("records")
        )
    with _timed(timings, "similar"):
        similar = find_similar(
            incident,
            [s.service for s in services[:3]] or incident.services,
            [p.template for p in patterns[:20]],
            history,
            signals=[f"{m.service}/{m.metric}" for m in metrics[:20]],
        )
    root_cause = RootCause(
        verdict=attribution.verdict,
        services=services,
        changes=attribution.changes,
        rejected_changes=attribution.rejected,
        metrics=metrics,
        log_patterns=patterns,
        similar_incidents=similar,
        evidence_requests=attribution.evidence_requests,
    )
    return Analysis(
        incident=incident,
        timeline=events,
        moments=moments,
        durations=compute_durations(moments),
        onset=onset,
        root_cause=root_cause,
        similar_incidents=similar,
        data_quality=[*quality, *cross],
        gaps=gaps,
        remediation=gate_actions(bundle.actions, incident.id, now or datetime.now(UTC)),
        quarantine=quarantine,
    )
