"""Vendor-neutral domain model, the project's public model API: evidence records, analysis, store entities.

Import every name from `postmortem.model`; the submodules group them by domain.
"""

from postmortem.model.actions import ACTION_TYPES, Action, GateVerdict
from postmortem.model.analysis import Analysis
from postmortem.model.evidence import (
    ALERT_STATUSES,
    CHANGE_KINDS,
    DEPLOY_STATUSES,
    LOG_LEVELS,
    SEVERITIES,
    Alert,
    Change,
    ChatMessage,
    Commit,
    Incident,
    LogRecord,
    MetricPoint,
    Quarantined,
    Record,
    Severity,
    Ticket,
    Topology,
)
from postmortem.model.history import AuditEntry, PastIncident, ReportVersion
from postmortem.model.quality import QualityResult, QualitySeverity, Review, review_of
from postmortem.model.root_cause import (
    ChangeCandidate,
    Confidence,
    LogPattern,
    MetricCandidate,
    RejectedChange,
    Role,
    RootCause,
    ServiceCandidate,
    SimilarIncident,
)
from postmortem.model.timeline import Durations, Gap, Moments, Onset, TimelineEvent

__all__ = [
    "ACTION_TYPES",
    "ALERT_STATUSES",
    "CHANGE_KINDS",
    "DEPLOY_STATUSES",
    "LOG_LEVELS",
    "SEVERITIES",
    "Action",
    "Alert",
    "Analysis",
    "AuditEntry",
    "Change",
    "ChangeCandidate",
    "ChatMessage",
    "Commit",
    "Confidence",
    "Durations",
    "Gap",
    "GateVerdict",
    "Incident",
    "LogPattern",
    "LogRecord",
    "MetricCandidate",
    "MetricPoint",
    "Moments",
    "Onset",
    "PastIncident",
    "QualityResult",
    "QualitySeverity",
    "Quarantined",
    "Record",
    "RejectedChange",
    "ReportVersion",
    "Review",
    "Role",
    "RootCause",
    "ServiceCandidate",
    "Severity",
    "SimilarIncident",
    "Ticket",
    "TimelineEvent",
    "Topology",
    "review_of",
]
