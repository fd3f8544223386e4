"""The whole analysis of one incident bundle as one pure function (no Prefect, no publishing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import TypeAdapter

from connectors.bundle import Bundle
from postmortem.model import Analysis, PastIncident, QualityResult, RootCause, TimelineEvent
from tasks.changes import correlate_changes
from tasks.clean import clean_frames
from tasks.gaps import find_gaps
from tasks.gate import gate_actions
from tasks.log_patterns import mine_log_patterns
from tasks.onset import detect_onsets, overall_onset, rank_services
from tasks.quality import check_quality
from tasks.similar import find_similar
from tasks.timeline import build_timeline, compute_durations, key_moments

_EVENTS = TypeAdapter(list[TimelineEvent])


def analyze(
    bundle: Bundle,
    *,
    history: Sequence[PastIncident] = (),
    quality: Sequence[QualityResult] | None = None,
    now: datetime | None = None,
) -> Analysis:
    """Validate, clean and analyse a bundle into the DESIGN 6.2 document."""
    incident, topology = bundle.incident, bundle.topology
    if quality is None:
        quality = check_quality(bundle)
    frames, quarantine = clean_frames(bundle.frames, incident)

    metrics = detect_onsets(frames["metrics"], incident)
    onset = overall_onset(metrics)
    services = rank_services(metrics, topology, incident)
    patterns = mine_log_patterns(frames["logs"], incident, onset)
    attribution = correlate_changes(frames["deploys"], frames["commits"], incident, onset, services, topology)

    timeline = build_timeline(incident, frames, metrics, patterns)
    moments = key_moments(incident, frames, onset)
    similar = find_similar(
        incident,
        [s.service for s in services[:3]] or incident.services,
        [p.template for p in patterns[:20]],
        history,
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
        timeline=_EVENTS.validate_python(timeline.to_dict("records")),
        moments=moments,
        durations=compute_durations(moments),
        onset=onset,
        root_cause=root_cause,
        similar_incidents=similar,
        data_quality=list(quality),
        gaps=find_gaps(incident, frames, bundle.present, moments, topology),
        remediation=gate_actions(bundle.actions, incident.id, now or datetime.now(UTC)),
        quarantine=quarantine,
    )
