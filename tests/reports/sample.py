"""Hand-built, realistic Analysis documents for the report tests (the analytics are not needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from postmortem.model import (
    Analysis,
    ChangeCandidate,
    Durations,
    Gap,
    GateVerdict,
    Incident,
    LogPattern,
    MetricCandidate,
    Moments,
    Onset,
    QualityResult,
    Quarantined,
    RejectedChange,
    RootCause,
    ServiceCandidate,
    SimilarIncident,
    TimelineEvent,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # impact start


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def incident(**overrides: Any) -> Incident:
    """A SEV2 checkout incident with a full impact object."""
    fields: dict[str, Any] = {
        "id": "INC-2026-0302",
        "title": "Checkout errors after payments deploy",
        "severity": "SEV2",
        "status": "resolved",
        "services": ["checkout", "payments", "web"],
        "started_at": at(0),
        "detected_at": at(6),
        "acknowledged_at": at(8.5),
        "mitigated_at": at(31),
        "resolved_at": at(74),
        "commander": "hana.sato",
        "team": "team-payments",
        "summary": "From 10:00 to 10:31 UTC about 18% of checkout requests failed after payments v2.14.0.",
        "impact": {
            "users_affected": 12408,
            "requests_failed": 88213,
            "slo": "checkout availability 99.9% over 30 days",
            "error_budget_burned_pct": 41.5,
            "regions": ["eu-west-1", "eu-central-1"],
        },
        "tags": ["deploy", "rollback"],
    }
    return Incident(**(fields | overrides))


_EVENTS: list[tuple[float, str, str, str | None, str, str | None]] = [
    (-45, "commits", "commit", "payments", "a1b2c3d retry budget for card authorisations", "a1b2c3d"),
    (-30, "deploys", "deploy", "search", "search v8.1.2 deployed to production", "dep-search-812"),
    (
        -14,
        "deploys",
        "deploy",
        "payments",
        "payments v2.14.0 deployed to production",
        "https://ci.example.com/d/41",
    ),
    (-9, "deploys", "config", "checkout", "checkout config: timeout_ms 800 -> 1200", "cfg-77"),
    (0, "incident", "impact_start", None, "impact started", None),
    (0.5, "metrics", "onset", "payments", "payments error_rate left its baseline", None),
    (1, "logs", "log_pattern", "payments", "first 'card authorisation timeout after <*> ms'", None),
    (1.5, "metrics", "onset", "checkout", "checkout http_5xx_rate left its baseline", None),
    (2, "logs", "log_pattern", "checkout", "first 'upstream payments returned 503'", None),
    (3, "metrics", "onset", "web", "web latency_p99 left its baseline", None),
    (4, "alerts", "alert", "checkout", "CheckoutErrorRateHigh firing", "https://alerts.example.com/a/1"),
    (5, "alerts", "alert", "payments", "PaymentsTimeouts firing", "https://alerts.example.com/a/2"),
    (6, "incident", "detected", None, "incident detected", None),
    (7, "chat", "message", None, "ana: checkout is throwing 503s, paging payments", None),
    (8.5, "incident", "acknowledged", None, "incident acknowledged by hana.sato", None),
    (9, "chat", "message", None, "hana.sato: I am IC, opening the bridge", None),
    (11, "chat", "message", None, "li.wei: payments v2.14.0 went out 14 min before the errors", None),
    (13, "tickets", "ticket", None, "INC ticket SUP-881 opened by support", "SUP-881"),
    (15, "chat", "message", None, "li.wei: rolling back payments to v2.13.4", None),
    (17, "deploys", "rollback", "payments", "payments rolled back to v2.13.4", "dep-payments-rb"),
    (19, "metrics", "recovery", "payments", "payments error_rate back to baseline", None),
    (22, "alerts", "alert_resolved", "payments", "PaymentsTimeouts resolved", None),
    (25, "alerts", "alert_resolved", "checkout", "CheckoutErrorRateHigh resolved", None),
    (28, "chat", "message", None, "ana: checkout success rate back to 99.95%", None),
    (31, "incident", "mitigated", None, "incident mitigated", None),
    (
        40,
        "chat",
        "message",
        None,
        "hana.sato: keeping the incident open while we watch the queue drain",
        None,
    ),
    (55, "logs", "log_pattern", "checkout", "last 'upstream payments returned 503'", None),
    (60, "chat", "message", None, "li.wei: queue drained, no more retries pending", None),
    (74, "incident", "resolved", None, "incident resolved", None),
    (80, "tickets", "ticket", None, "postmortem ticket PM-12 opened", "PM-12"),
]


def timeline() -> list[TimelineEvent]:
    """Thirty events from eight sources, in time order."""
    return [
        TimelineEvent(ts=at(m), source=src, kind=kind, service=svc, summary=text, ref=ref)
        for m, src, kind, svc, text, ref in _EVENTS
    ]


def root_cause() -> RootCause:
    """A primary deploy, a contributory config change, rejected changes and every signal kind."""
    return RootCause(
        verdict="change",
        services=[
            ServiceCandidate(
                service="payments", score=0.91, evidence=["onset first (10:00:30)", "root of checkout"]
            ),
            ServiceCandidate(service="checkout", score=0.55, evidence=["calls payments (1 hop)"]),
            ServiceCandidate(service="web", score=0.2, evidence=["calls checkout (2 hops)"]),
        ],
        changes=[
            ChangeCandidate(
                id="dep-payments-2140",
                kind="deploy",
                service="payments",
                ts=at(-14),
                score=0.874,
                confidence="high",
                role="primary",
                evidence=["deployed payments v2.14.0 14 min before the onset", "rolled back at 10:17:00"],
                features={"minutes_before_onset": 14.5, "timing": 0.81, "service_match": 1.0},
            ),
            ChangeCandidate(
                id="cfg-77",
                kind="config",
                service="checkout",
                ts=at(-9),
                score=0.412,
                confidence="low",
                role="contributory",
                evidence=["changed checkout timeout_ms 9 min before the onset"],
            ),
        ],
        rejected_changes=[
            RejectedChange(
                id="dep-search-812",
                kind="deploy",
                service="search",
                ts=at(-30),
                score=0.05,
                reason="unrelated service, weak timing",
            ),
            RejectedChange(
                id="dep-payments-rb",
                kind="rollback",
                service="payments",
                ts=at(17),
                score=0.0,
                reason="rollback of dep-payments-2140: a mitigation",
            ),
        ],
        metrics=[
            MetricCandidate(service="payments", metric="error_rate", score=8.4, onset=at(0.5)),
            MetricCandidate(service="checkout", metric="http_5xx_rate", score=6.1, onset=at(1.5)),
            MetricCandidate(service="web", metric="latency_p99", score=2.3, onset=at(3)),
        ],
        log_patterns=[
            LogPattern(
                template="card authorisation timeout after <*> ms",
                service="payments",
                count=4210,
                first_seen=at(1),
                score=0.97,
                baseline_count=0,
                new=True,
            ),
            LogPattern(
                template="upstream payments returned <*>",
                service="checkout",
                count=1877,
                first_seen=at(2),
                score=0.88,
                baseline_count=3,
                new=False,
            ),
            *[
                LogPattern(
                    template=f"retrying request <*> attempt {i}",
                    service="checkout",
                    count=100 - i,
                    first_seen=at(2 + i),
                    score=0.5 - i / 100,
                )
                for i in range(12)
            ],
        ],
        similar_incidents=[
            SimilarIncident(
                id="INC-2025-1107",
                score=0.72,
                title="Payments timeouts after deploy",
                root_cause="retry storm in payments",
                resolution="rollback",
            ),
        ],
        evidence_requests=["no deploy data for service web", "add traces for payments -> card-gateway"],
    )


def remediation() -> list[GateVerdict]:
    """Two actions that pass the gate and one that fails it."""
    return [
        GateVerdict(
            title="Canary payments deploys with an automatic error-rate rollback",
            fingerprint="fp-canary",
            passed=True,
            owner="li.wei",
            due=date(2026, 3, 30),
            type="prevent",
        ),
        GateVerdict(
            title="Alert on payments p99 > 800 ms within 2 min",
            fingerprint="fp-alert",
            passed=True,
            owner="ana",
            due=date(2026, 3, 20),
            type="detect",
        ),
        GateVerdict(
            title="Be more careful with retries",
            fingerprint="fp-vague",
            passed=False,
            reasons=["missing owner", "vague verb 'be more careful' without a measurable target"],
            type="process",
        ),
    ]


def data_quality() -> list[QualityResult]:
    """Passing checks plus a warn failure with examples and an info note."""
    return [
        QualityResult(source="alerts", check="id_unique", success=True, severity="warn"),
        QualityResult(
            source="logs",
            check="level_in_set",
            success=False,
            unexpected_count=17,
            severity="warn",
            details={"examples": [{"line": 12, "value": "VERBOSE"}, {"line": 40, "value": "chatty"}]},
        ),
        QualityResult(
            source="metrics",
            check="one_value_per_ts",
            success=False,
            unexpected_count=4,
            severity="warn",
            details={"examples": [{"line": 3, "value": {"ts": "2026-03-02T10:00:00Z"}}]},
        ),
        QualityResult(
            source="tickets",
            check="dataset_present",
            success=True,
            severity="info",
            details={"note": "present"},
        ),
    ]


def analysis(**overrides: Any) -> Analysis:
    """The rich sample analysis (fields replaced by `overrides`)."""
    fields: dict[str, Any] = {
        "incident": incident(),
        "timeline": timeline(),
        "moments": Moments(
            impact_start=at(0),
            first_anomaly=at(0.5),
            first_alert=at(4),
            detection=at(6),
            acknowledgement=at(8.5),
            mitigation=at(31),
            resolution=at(74),
        ),
        "durations": Durations(
            time_to_detect=360, time_to_acknowledge=150, time_to_mitigate=1860, time_to_resolve=4440
        ),
        "onset": Onset(ts=at(0.5), service="payments", metric="error_rate"),
        "root_cause": root_cause(),
        "data_quality": data_quality(),
        "gaps": [
            Gap(kind="missing_source", detail="no traces were provided", source="traces"),
            Gap(
                kind="silent_period",
                detail="no logs from web for 12 min",
                source="logs",
                service="web",
                start=at(20),
                end=at(32),
            ),
            Gap(
                kind="detection_lag", detail="first alert 3 min 30 s after the first anomaly", source="alerts"
            ),
        ],
        "remediation": remediation(),
        "quarantine": [
            Quarantined(file="logs.jsonl", line=40 + i, field="level", reason=f"unknown level 'chatty' #{i}")
            for i in range(3)
        ]
        + [Quarantined(file="metrics.csv", line=3, field="ts,service,metric", reason="duplicate row")],
    }
    return Analysis(**(fields | overrides))


def empty_analysis() -> Analysis:
    """An incident with nothing found: no timeline, changes, metrics, actions or quality results."""
    bare = Incident(id="INC-EMPTY", severity="SEV4")
    return Analysis(
        incident=bare,
        timeline=[],
        moments=Moments(),
        durations=Durations(),
        onset=Onset(),
        root_cause=RootCause(),
        data_quality=[],
        gaps=[],
        remediation=[],
    )


def tickets() -> list[dict[str, Any]]:
    """Tickets for the two actions that passed the gate (as the publish step passes them)."""
    return [
        {
            "key": "PM-1",
            "title": "Canary payments deploys",
            "url": "https://tracker.example.com/PM-1",
            "status": "open",
            "fingerprint": "fp-canary",
        },
        {
            "key": "PM-2",
            "title": "Alert on payments p99",
            "url": None,
            "status": "in progress",
            "fingerprint": "fp-alert",
        },
    ]


DEFINITIONS = {
    "time_to_detect": "detection minus impact start, in seconds",
    "time_to_resolve": "resolution minus impact start, in seconds",
}
