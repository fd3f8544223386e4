"""Lessons learned, derived mechanically from the analysis: each line states a measured fact, no prose.

Rules (thresholds are constants below):
- went well: acknowledgement within FAST_ACK; an alert within PROMPT_ALERT of the first anomaly; a rollback
  used; the trigger identified with high confidence; every data-quality check passed; every proposed action
  passed the remediation gate; a similar past incident with a recorded resolution;
- went wrong: the likely trigger; acknowledgement slower than SLOW_ACK; an alert later than PROMPT_ALERT
  after the first anomaly, or no alert found; missing evidence sources; other gaps counted by kind;
  critical data-quality failures; actions failing the gate;
- where we got lucky: the trigger identified despite missing sources; impact mitigated without a recorded
  rollback; error budget not exhausted (impact `error_budget_burned_pct` below 100).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from postmortem.model import Analysis, ChangeCandidate
from reports.caveats import critical_failures
from reports.formatting import fmt_duration, fmt_number, fmt_time, label

FAST_ACK = 5 * 60.0  # seconds
SLOW_ACK = 15 * 60.0
PROMPT_ALERT = 5 * 60.0  # first alert after the first anomaly
MISSING_SOURCE = "missing_source"  # the gap kind of an absent or empty evidence source


def primary_change(analysis: Analysis) -> ChangeCandidate | None:
    """The change ranked primary, if any."""
    return next((c for c in analysis.root_cause.changes if c.role == "primary"), None)


def missing_sources(analysis: Analysis) -> list[str]:
    """Sources named by `missing_source` gaps (sorted, unique)."""
    return sorted({g.source or g.detail for g in analysis.gaps if g.kind == MISSING_SOURCE})


def lessons(analysis: Analysis, rollbacks: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """What went well, what went wrong and where we got lucky, as lists of factual lines."""
    return {
        "went_well": _went_well(analysis, rollbacks),
        "went_wrong": _went_wrong(analysis),
        "lucky": _lucky(analysis, rollbacks),
    }


def _alert_lag(analysis: Analysis) -> float | None:
    m = analysis.moments
    if m.first_alert is None or m.first_anomaly is None:
        return None
    return (m.first_alert - m.first_anomaly).total_seconds()


def _went_well(analysis: Analysis, rollbacks: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    ack = analysis.durations.time_to_acknowledge
    if ack is not None and 0 <= ack <= FAST_ACK:
        out.append(f"Fast acknowledgement: time to acknowledge was {fmt_duration(ack)}.")
    lag = _alert_lag(analysis)
    if lag is not None and lag <= PROMPT_ALERT:
        out.append(f"Alerting fired {fmt_duration(max(lag, 0))} after the first anomaly.")
    if rollbacks:
        first = rollbacks[0]
        out.append(f"A rollback was used: {first['text']} at {first['time']}.")
    primary = primary_change(analysis)
    if primary is not None and primary.confidence == "high":
        out.append(f"The trigger ({primary.kind} {primary.id}) was identified with high confidence.")
    results = analysis.data_quality
    if results and all(r.success for r in results):
        out.append(f"All {fmt_number(len(results))} data-quality checks passed.")
    actions = analysis.remediation
    if actions and all(v.passed for v in actions):
        out.append(f"All {fmt_number(len(actions))} proposed actions passed the remediation gate.")
    known = [s for s in analysis.root_cause.similar_incidents or analysis.similar_incidents if s.resolution]
    if known:
        out.append(f"A similar past incident ({known[0].id}) with a recorded resolution was found.")
    return out


def _went_wrong(analysis: Analysis) -> list[str]:
    out = []
    primary = primary_change(analysis)
    if primary is not None:
        where = f" on {primary.service}" if primary.service else ""
        out.append(
            f"The {primary.kind} {primary.id}{where} at {fmt_time(primary.ts)} is the likely trigger "
            f"({primary.confidence} confidence)."
        )
    ack = analysis.durations.time_to_acknowledge
    if ack is not None and ack > SLOW_ACK:
        out.append(f"Slow acknowledgement: time to acknowledge was {fmt_duration(ack)}.")
    lag = _alert_lag(analysis)
    if lag is not None and lag > PROMPT_ALERT:
        out.append(f"Late alert: the first alert fired {fmt_duration(lag)} after the first anomaly.")
    if analysis.moments.first_alert is None:
        out.append("No alert was found in the evidence.")
    missing = missing_sources(analysis)
    if missing:
        out.append(f"Evidence was missing from: {', '.join(missing)}.")
    other = Counter(label(g.kind).lower() for g in analysis.gaps if g.kind != MISSING_SOURCE)
    if other:
        counts = ", ".join(f"{fmt_number(n)} × {kind}" for kind, n in sorted(other.items()))
        out.append(f"Gaps in the evidence or the response: {counts} (see Evidence caveats).")
    critical = critical_failures(analysis.data_quality)
    if critical:
        out.append(
            f"{fmt_number(len(critical))} critical data-quality checks failed: the analysis needs review."
        )
    failed = [v for v in analysis.remediation if not v.passed]
    if failed:
        out.append(
            f"{fmt_number(len(failed))} of {fmt_number(len(analysis.remediation))} proposed actions "
            "failed the remediation gate."
        )
    return out


def _lucky(analysis: Analysis, rollbacks: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    missing = missing_sources(analysis)
    primary = primary_change(analysis)
    if primary is not None and missing:
        out.append(f"The trigger was identified although evidence was missing from: {', '.join(missing)}.")
    if analysis.moments.mitigation is not None and not rollbacks:
        out.append(
            f"Impact was mitigated at {fmt_time(analysis.moments.mitigation)} without a recorded rollback."
        )
    burned = analysis.incident.impact.get("error_budget_burned_pct")
    if isinstance(burned, int | float) and not isinstance(burned, bool) and 0 <= burned < 100:
        out.append(f"The error budget was not exhausted ({fmt_number(burned)}% burned).")
    return out
