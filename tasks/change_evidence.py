"""The words of change correlation: evidence sentences, rejection reasons and requests for more data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from postmortem.model import Incident, Onset, Topology
from tasks.change_records import text
from tasks.change_relations import SAME_LR

FEATURES = (
    "minutes_before_onset",
    "timing_lr",
    "service_lr",
    "service_hops",
    "prior_weight",
    "environment_factor",
    "failed",
    "status_lr",
    "reversal_lr",
    "reversal_proximity",
    "blast_radius",
    "blast_lr",
    "lines",
    "files",
    "fanout",
    "superseded",
    "likelihood_ratio",
    "credit_share",
    "competitors",
    "window_changes",
)
_VERBS = {
    "deploy": "deployed",
    "rollback": "rolled back",
    "config": "changed the config of",
    "feature_flag": "flipped a feature flag in",
    "infra": "changed the infrastructure of",
    "migration": "ran a migration on",
    "commit": "committed to",
}
_NOUNS = {
    "deploy": "deploy",
    "config": "config change",
    "feature_flag": "flag change",
    "infra": "infrastructure change",
    "migration": "migration",
}
_FACTORS = (
    ("timing_lr", "timing"),
    ("service_lr", "service"),
    ("reversal_lr", "reversal"),
    ("status_lr", "failed status"),
    ("blast_lr", "blast radius"),
    ("environment_factor", "non-production"),
    ("superseded_factor", "superseded"),
)
_NS_PER_MIN = 60e9
WEAK_SERVICE_LR = 0.12  # at or below this service factor and a timing factor under 1, a change is
WEAK_TIMING_LR = 1.0  # rejected as "unrelated service, weak timing"
PLAUSIBLE_SCORE = 0.15  # a top candidate from this score but not confident gets separating requests
LATE_MINUTES = 15  # a change to the root this long after the onset may be a skewed clock


def _duration(minutes: float) -> str:
    minutes = abs(minutes)
    if minutes < 1:
        return "under 1 min"
    hours, mins = divmod(round(minutes), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _clock(ns: float) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%H:%MZ")


def _near_mitigation(event_ns: float, mitigation_ns: int | None) -> str:
    if mitigation_ns is None:
        return ""
    gap = (mitigation_ns - event_ns) / _NS_PER_MIN
    return f", {_duration(gap)} {'before' if gap >= 0 else 'after'} mitigation"


def _reversal(row: Mapping[str, Any], mitigation_ns: int | None) -> str | None:
    """How the change was undone after the onset, as a sentence (None when it was not)."""
    how, event_id, event_ts = row["reversal_how"], row["reversal_id"], row["reversal_ts"]
    if not isinstance(how, str) or row["reversal_lr"] == 1.0:
        return None
    if how == "status" and pd.isna(event_ts):
        return "its status is rolled_back (when is not recorded)"
    at, near = _clock(event_ts), _near_mitigation(event_ts, mitigation_ns)
    return {
        "rollback": f"rolled back at {at} ({event_id}){near}",
        "version": f"its previous version came back at {at} ({event_id}){near}: an unmarked rollback",
        "revert": f"reverted by commit {str(event_id)[:8]} at {at}{near}",
        "status": f"its status is rolled_back; the next deploy {event_id} went out at {at}{near}",
        "corrective": f"the next {_NOUNS.get(row['kind'], 'change')} of {row['service']} ({event_id}) at "
        f"{at}{near}{',' if near else ''} may have undone it",
    }[how]


def evidence(
    row: Mapping[str, Any], onset_known: bool, mitigation_ns: int | None, no_change: float | None
) -> list[str]:
    """Human sentences explaining one candidate's features (`no_change` given for the primary)."""
    anchor = "the onset" if onset_known else "the incident start"
    root = row["root"]
    where = f" in {root}" if root else ""
    minutes = row["minutes_before_onset"]
    if minutes >= 0:
        when = f"{_duration(minutes)} before {anchor}"
    else:
        when = f"{_duration(minutes)} after {anchor} (within the clock-skew tolerance)"
    subject = row["service"] if isinstance(row["service"], str) else "(no service named)"
    label = f" {row['label']}" if isinstance(row["label"], str) else ""
    verb = _VERBS.get(row["kind"], f"made a {row['kind']} change to")
    lines = [f"{verb} {subject}{label} {when}{where}"]
    hops = int(row["service_hops"])
    hop_text = f"{hops} hop{'s' if hops != 1 else ''}"
    lines.append(
        {
            "same": f"same service as the root service {root}",
            "dependency": f"{root} depends on {subject} ({hop_text} in the topology)",
            "caller": f"{subject} calls {root} ({hop_text} in the topology)",
            "unrelated": f"no path between {subject} and {root} in the topology",
            "unknown": f"{subject} or {root} is not in the topology: relation unknown",
            "no_service": "the change names no service",
            "no_reference": "no root service known to compare with",
        }[row["relation"]]
    )
    factors = [f"{name} x{row[col]:.3g}" for col, name in _FACTORS if round(row[col], 3) != 1.0]
    ratio = row["likelihood_ratio"]
    size = f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"
    lines.append(f"likelihood ratio {size} against an everyday change: " + ", ".join(factors))
    reversal = _reversal(row, mitigation_ns)
    if reversal:
        lines.append(reversal)
    if row["failed"]:
        lines.append("its status is failed (a partial rollout)")
    if row["environment_factor"] < 1:
        lines.append(f"environment {row['environment']} is not production")
    if row["lines"] or row["files"]:
        lines.append(f"touches {int(row['files'])} files, {int(row['lines'])} changed lines")
    if row["fanout"] > 1:
        lines.append(f"the same commit was deployed to {int(row['fanout'])} services")
    if row["source"] == "commit":
        lines.append(
            "no deploy carries this commit"
            + (" although its service's deploys are known" if row["service_deploys_known"] else "")
        )
    if isinstance(row["superseded_by"], str):
        lines.append(f"superseded by {row['superseded_by']} before {anchor}")
    if row["competitors"] > 0:
        n = int(row["competitors"])
        lines.append(
            f"{n} other change{'s share' if n > 1 else ' shares'} the credit in the window "
            f"({row['credit_share']:.0%} of it here)"
        )
    if no_change is not None:
        lines.append(f"probability that no recorded change caused the incident: {no_change:.0%}")
    return lines


def rejection_reasons(f: pd.DataFrame) -> list[str]:
    """Why each change that is not a candidate was rejected (first matching reason wins)."""
    weak = (f["service_lr"] <= WEAK_SERVICE_LR) & (f["timing_lr"] < WEAK_TIMING_LR)
    rules = [
        (
            f["after_onset"] & f["rolls_back"].notna(),
            "rollback of " + f["rolls_back"].astype(str) + ": a mitigation",
        ),
        (f["after_onset"], "after onset"),
        (f["outside_lookback"], "outside lookback"),
        (f["superseded_by"].notna(), "superseded by " + f["superseded_by"].astype(str)),
        (f["environment_factor"] < 1, "not production (environment " + f["environment"].astype(str) + ")"),
        (weak, "unrelated service, weak timing"),
    ]
    reason = pd.Series("score below threshold", index=f.index, dtype=object)
    for condition, words in reversed(rules):
        reason = reason.mask(condition, words)
    return reason.tolist()


def evidence_requests(
    deploys: pd.DataFrame,
    commits: pd.DataFrame,
    incident: Incident,
    onset: Onset,
    roots: Mapping[str, float],
    topology: Topology,
    scored: pd.DataFrame | None,
    confident: float,
) -> list[str]:
    """Which data would raise the confidence of the change attribution: missing sources first, then, when
    the top candidate is plausible but scores under `confident`, what would separate the alternatives."""
    names = list(roots) or [s for s in incident.services if s]
    requests: list[str] = []
    deployed_services = text(deploys, "service").str.lower()
    if deploys.empty:
        requests.append("no deploy data: add a deploy source")
    else:
        deployed = set(deployed_services.dropna())
        requests += [f"no deploy data for service {r}" for r in roots if r.lower() not in deployed]
    if commits.empty:
        requests.append("no commit data: add a VCS source")
    if onset.ts is None:
        requests.append(f"no metric onset: add metrics for {', '.join(names) or 'the affected services'}")
    if not any(t is not None for t in incident.milestones().values()) and onset.ts is None:
        requests.append("no incident timestamps: add started_at to the incident record")
    if not topology.services:
        requests.append(
            "no topology: add topology.json so changes in dependencies and callers of "
            f"{', '.join(names) or 'the root service'} can be weighed"
        )
    if incident.mitigated_at is None and incident.resolved_at is None:
        requests.append("no mitigation time: add mitigated_at (a rollback near mitigation is evidence)")
    if scored is None or scored.empty:
        return requests
    versions = text(deploys, "version")
    for root in roots:
        own = deployed_services == root.lower()
        if own.any() and versions[own].isna().all():
            requests.append(f"deploys of {root} carry no version: an unmarked rollback cannot be recognised")
    top = scored.iloc[0]
    if not (PLAUSIBLE_SCORE <= top["score"] < confident):
        return requests
    # a plausible but unconfirmed top candidate: say what would separate it from the alternatives
    rivals = scored[scored["viable"] & (scored["score"] >= 0.5 * top["score"])]["id"].head(5).tolist()
    if len(rivals) > 1:
        requests.append(
            f"{len(rivals)} changes are about equally likely ({', '.join(rivals)}): rollout markers "
            "(canary, percentage) or traces tagged with versions would separate them"
        )
    if len(roots) > 1:
        requests.append(
            f"the root service is uncertain ({', '.join(roots)}): metrics of their dependencies would "
            "settle which one failed first"
        )
    late = scored[
        scored["rolls_back"].isna()
        & (scored["service_lr"] >= SAME_LR)
        & (scored["minutes_before_onset"] < 0)
        & (scored["minutes_before_onset"] >= -LATE_MINUTES)
    ]
    for row in late.head(2).itertuples(index=False):
        requests.append(
            f"change {row.id} to {row.service} is recorded {_duration(row.minutes_before_onset)} after the "
            "onset: if the clock of its source is off, it may be the cause; check that clock"
        )
    return requests
