"""The incident record's suite: one record, so plain Python rather than a GX batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postmortem.model import Incident, QualityResult
from tasks.clean import json_safe
from tasks.quality.config import QualitySettings
from tasks.quality.policy import Policy

INCIDENT = "incident"
INCIDENT_CHECKS = {
    "milestones_in_order": ("critical", "started <= detected <= acknowledged <= mitigated <= resolved"),
    "severity_in_set": ("critical", "`severity` is one of the accepted severities"),
    "status_in_set": ("warn", "`status` is one of the accepted statuses"),
    "services_not_empty": ("warn", "the incident names at least one service"),
}


def incident_checks(incident: Incident, settings: QualitySettings, policy: Policy) -> list[QualityResult]:
    """Milestone order, severity and status values, and services of the incident record."""
    values = settings.values
    severity, status = str(incident.severity), str(incident.status)
    outcomes: dict[str, tuple[list[dict[str, Any]], int]] = {
        "milestones_in_order": _out_of_order(incident),
        "severity_in_set": ([] if severity in values.incident_severities else [{"value": severity}], 1),
        "status_in_set": ([] if status.lower() in values.incident_statuses else [{"value": status}], 1),
        "services_not_empty": ([] if incident.services else [{"value": incident.services}], 1),
    }
    results = []
    for check, (examples, elements) in outcomes.items():
        results.append(
            QualityResult(
                source=INCIDENT,
                check=check,
                success=not examples,
                unexpected_count=len(examples),
                severity=policy.severity(INCIDENT, check),
                details={
                    "expectation": f"python:{check}",
                    "rule": INCIDENT_CHECKS[check][1],
                    "examples": examples,
                    "element_count": elements,
                },
            )
        )
    return results


def _out_of_order(incident: Incident) -> tuple[list[dict[str, Any]], int]:
    """Milestones earlier than the latest milestone before them, and how many milestones are set."""
    present = [(k, t) for k, t in incident.milestones().items() if t is not None]
    examples = []
    latest: tuple[str, datetime] | None = None
    for key, ts in present:
        if latest is not None and ts < latest[1]:
            examples.append(
                {
                    "milestone": key,
                    "value": json_safe(ts),
                    "before": latest[0],
                    "before_value": json_safe(latest[1]),
                }
            )
        else:
            latest = (key, ts)
    return examples, len(present)
