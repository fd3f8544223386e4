"""Small hand-built domain objects for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postmortem.model import (
    Action,
    Analysis,
    ChangeCandidate,
    Durations,
    GateVerdict,
    Incident,
    LogPattern,
    MetricCandidate,
    Moments,
    Onset,
    QualityResult,
    RejectedChange,
    RootCause,
    ServiceCandidate,
    SimilarIncident,
    TimelineEvent,
)

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def incident(incident_id: str = "INC-1", **extra: object) -> Incident:
    """A resolved incident on two services, with optional extra (vendor) fields."""
    return Incident(
        id=incident_id,
        title=f"Checkout errors ({incident_id})",
        severity="SEV2",
        services=["checkout", "payments"],
        started_at=T0,
        detected_at=T0 + timedelta(minutes=4),
        resolved_at=T0 + timedelta(minutes=50),
        summary="5xx on checkout after a deploy",
        **extra,
    )


def verdict(title: str, incident_id: str = "INC-1", passed: bool = True) -> GateVerdict:
    """A gate verdict whose fingerprint is derived like model.Action.fingerprint."""
    return GateVerdict(
        title=title,
        fingerprint=Action(title=title).fingerprint(incident_id),
        passed=passed,
        reasons=[] if passed else ["no owner"],
        owner="alice" if passed else None,
    )


def analysis(incident_id: str = "INC-1", events: int = 40, actions: tuple[str, ...] = ("A", "B")) -> Analysis:
    """An analysis with `events` timeline entries, two changes, every signal kind, quality and actions."""
    timeline = [
        TimelineEvent(
            ts=T0 + timedelta(seconds=15 * i),
            source="logs" if i % 2 else "alerts",
            kind="log" if i % 2 else "alert",
            service="checkout",
            summary=f"event {i}",
            ref=f"ref-{i}",
        )
        for i in range(events)
    ]
    root_cause = RootCause(
        verdict="change",
        services=[
            ServiceCandidate(service="checkout", score=0.9, evidence=["onset first"]),
            ServiceCandidate(service="payments", score=0.4),
        ],
        changes=[
            ChangeCandidate(
                id="dep-7",
                kind="deploy",
                service="checkout",
                ts=T0 - timedelta(minutes=3),
                score=0.92,
                confidence="high",
                role="primary",
                evidence=["3 min before onset"],
                features={"proximity": 0.95},
            ),
            ChangeCandidate(
                id="flag-2",
                kind="feature_flag",
                service="payments",
                ts=T0 - timedelta(minutes=30),
                score=0.3,
                confidence="low",
                role="contributory",
            ),
        ],
        rejected_changes=[
            RejectedChange(
                id="dep-1",
                kind="deploy",
                service="search",
                ts=T0 - timedelta(hours=3),
                score=0.01,
                reason="too early",
            )
        ],
        metrics=[MetricCandidate(service="checkout", metric="http_5xx", score=8.5, onset=T0)],
        log_patterns=[
            LogPattern(
                template="connection pool exhausted <*>",
                service="checkout",
                count=900,
                first_seen=T0,
                score=7,
            ),
            LogPattern(template="timeout calling <*>", service="payments", count=40, first_seen=T0, score=2),
        ],
    )
    return Analysis(
        incident=incident(incident_id),
        timeline=timeline,
        moments=Moments(impact_start=T0),
        durations=Durations(time_to_detect=240.0),
        onset=Onset(ts=T0, service="checkout", metric="http_5xx"),
        root_cause=root_cause,
        similar_incidents=[SimilarIncident(id="INC-0", score=0.7, title="older")],
        data_quality=[
            QualityResult(source="logs", check="ts_not_null", success=True),
            QualityResult(source="deploys", check="status_in_set", success=False, unexpected_count=2),
        ],
        gaps=[],
        remediation=[verdict(title, incident_id, passed=title != "B") for title in actions],
    )


def gate_analysis(incident_id: str, verdicts: list[GateVerdict], started: datetime = T0) -> Analysis:
    """A minimal analysis: the incident and its remediation verdicts, all the governance audit reads."""
    return Analysis(
        incident=Incident(
            id=incident_id, severity="SEV2", started_at=started, resolved_at=started + timedelta(hours=1)
        ),
        timeline=[],
        moments=Moments(),
        durations=Durations(),
        onset=Onset(),
        root_cause=RootCause(),
        data_quality=[],
        gaps=[],
        remediation=verdicts,
    )
