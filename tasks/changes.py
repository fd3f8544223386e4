"""Change correlation: which deploy, config change, flag flip, migration or commit set off the incident.

Every change in the lookback is scored from named features (kept in `ChangeCandidate.features`):

    raw   = timing * service_match * kind_prior * environment
    pre   = min(1, raw * (1 + STATUS_BOOST * failed_or_rolled_back + BLAST_BOOST * blast_radius))
    pre   = pre + (1 - pre) * ROLLBACK_BOOST * rollback_near_mitigation      (independent evidence)
    pre   = pre * SUPERSEDED_FACTOR, when a later deploy of the service went out before the onset
    score = pre * sqrt(credit_share),   credit_share = pre^2 / sum(pre^2 over all viable changes)

The features are computed column-wise over the whole changes frame; Python objects are built only for
the few candidates reported.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from postmortem.model import (
    ChangeCandidate,
    Confidence,
    Incident,
    Onset,
    RejectedChange,
    ServiceCandidate,
    Topology,
)

# ---------------------------------------------------------------- tuning
# All weights and thresholds below are provisional until the evaluation harness calibrates them.
LOOKBACK = timedelta(hours=6)  # changes older than this before the onset are rejected
CLOCK_SKEW = timedelta(minutes=2)  # a change this close after the onset still counts (clock skew)
TIME_DECAY = timedelta(minutes=30)  # timing = exp(-time before onset / TIME_DECAY)
ROLLBACK_WINDOW = timedelta(minutes=20)  # a rollback this close to mitigation is full evidence
ROLLBACK_DECAY = timedelta(minutes=60)  # ... decaying beyond it
ROLLBACK_UNKNOWN_MITIGATION = 0.5  # rollback after the onset, mitigation time unknown

KIND_PRIOR = {
    "deploy": 1.0,
    "migration": 0.9,
    "config": 0.9,
    "feature_flag": 0.85,
    "infra": 0.8,
    "rollback": 0.2,  # a rollback is a mitigation; it is evidence for the change it rolls back
}
OTHER_KIND_PRIOR = 0.7
COMMIT_PRIOR = 0.6  # a commit no deploy carries, in a service with no deploy data (it may be deployed)
COMMIT_PRIOR_UNDEPLOYED = 0.3  # ... in a service whose deploys are known: probably not deployed

SERVICE_SAME = 1.0
SERVICE_DEPENDENCY = 0.6  # the root service calls it (1 hop); x HOP_DECAY per further hop
SERVICE_CALLER = 0.45  # it calls the root service (1 hop); x HOP_DECAY per further hop
HOP_DECAY = 0.5
MAX_HOPS = 3
SERVICE_UNRELATED = 0.1  # both services in the topology, no path between them
SERVICE_UNKNOWN = 0.25  # the change names no service, or the topology does not know it
SERVICE_NO_REFERENCE = 0.5  # no root service known at all: service match is neutral

NON_PRODUCTION = re.compile(
    r"^(?:dev|development|test|testing|qa|stag|staging|stage|sandbox|preview)\b", re.I
)
NON_PRODUCTION_FACTOR = 0.2

STATUS_BOOST = 0.25  # failed or rolled_back status
BLAST_BOOST = 0.15  # at blast radius 1
ROLLBACK_BOOST = 0.6  # at rollback_near_mitigation 1
SUPERSEDED_FACTOR = 0.5
BLAST_LINES, BLAST_FILES, BLAST_FANOUT = 2000, 50, 5  # sizes that count as blast radius 1

PRIMARY_THRESHOLD = 0.5  # the top candidate is "primary" from this score
CONTRIBUTORY_THRESHOLD = 0.25  # other candidates are "contributory" from this score
WEAK_TIMING = 0.3  # below this timing and WEAK_SERVICE service match, the reason is
WEAK_SERVICE = 0.3  # "unrelated service, weak timing"
# confidence band: (minimum score, minimum margin over the next candidate)
HIGH = (0.65, 0.3)
MEDIUM = (0.4, 0.1)
COMPETITOR_RATIO = 0.5  # another change counts as a competitor from this fraction of the score
MAX_CANDIDATES = 20
MAX_REJECTED = 20

_VERBS = {
    "deploy": "deployed",
    "rollback": "rolled back",
    "config": "changed the config of",
    "feature_flag": "flipped a feature flag in",
    "infra": "changed the infrastructure of",
    "migration": "ran a migration on",
    "commit": "committed to",
}
_NS_PER_MIN = 60e9


@dataclass
class ChangeAttribution:
    """Ranked change candidates, the changes rejected with their reasons, and the verdict."""

    changes: list[ChangeCandidate] = field(default_factory=list)
    rejected: list[RejectedChange] = field(default_factory=list)
    verdict: Literal["change", "no_change_implicated"] = "no_change_implicated"
    evidence_requests: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- inputs


def _reference_services(services: Sequence[ServiceCandidate], onset: Onset, incident: Incident) -> list[str]:
    """Root service(s): top ranked service, else the onset's service, else the incident's services."""
    if services:
        return [services[0].service]
    if onset.service:
        return [onset.service]
    return [s for s in incident.services if s]


def _reference_time(incident: Incident, onset: Onset) -> datetime | None:
    """Onset if known, else the first incident milestone."""
    if onset.ts is not None:
        return onset.ts
    return next((t for t in incident.milestones().values() if t is not None), None)


def _ns(value: datetime) -> int:
    return pd.Timestamp(value).as_unit("ns").value


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A text column (missing values NaN), or all-missing when the frame lacks it."""
    if name not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="str")
    return frame[name].astype("str").str.strip().replace("", np.nan)


def _num(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce").fillna(0.0).clip(lower=0)


def _file_counts(commits: pd.DataFrame) -> pd.Series:
    """Number of files each commit touches (0 when not given as a list)."""
    files = commits.get("files")
    if files is None or files.dtype != object:
        return pd.Series(0.0, index=commits.index)
    return files.str.len().fillna(0.0)


def _sha_len(deploys: pd.DataFrame, commits: pd.DataFrame) -> int:
    """Prefix length on which deploy and commit shas are matched (shortest sha given, at least 7)."""
    lengths = pd.concat([_col(deploys, "sha").str.len(), _col(commits, "sha").str.len()]).dropna()
    return max(int(lengths.min()), 7) if len(lengths) else 40


def _changes_frame(deploys: pd.DataFrame, commits: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """One row per change: deploys as given, plus commits that no deploy carries (kind "commit")."""
    key_len = _sha_len(deploys, commits)
    c_sha = _col(commits, "sha").str.lower()
    c_key = c_sha.str[:key_len]
    lines = _num(commits, "additions") + _num(commits, "deletions")
    files = _file_counts(commits)
    sizes = pd.DataFrame({"key": c_key, "lines": lines, "files": files}).dropna(subset=["key"])
    sizes = sizes.drop_duplicates("key").set_index("key")

    d_key = _col(deploys, "sha").str.lower().str[:key_len]
    d_service = _col(deploys, "service")
    fanout = pd.DataFrame({"key": d_key, "service": d_service}).groupby("key")["service"].nunique()
    dep = pd.DataFrame(
        {
            "id": _col(deploys, "id").fillna("?"),
            "kind": _col(deploys, "kind").str.lower().fillna("deploy"),
            "service": d_service,
            "ts": deploys["ts"].to_numpy(dtype="datetime64[ns]").view("int64"),
            "status": _col(deploys, "status").str.lower(),
            "environment": _col(deploys, "environment"),
            "label": _col(deploys, "version").fillna(_col(deploys, "sha").str[:8]),
            "lines": d_key.map(sizes["lines"]).fillna(0.0).to_numpy(),
            "files": d_key.map(sizes["files"]).fillna(0.0).to_numpy(),
            "fanout": d_key.map(fanout).fillna(1.0).to_numpy(),
            "source": "deploy",
            "service_deploys_known": True,
        }
    )

    undeployed = ~c_key.isin(set(d_key.dropna())) | c_key.isna()
    c = commits[undeployed.to_numpy()]
    repo = _col(c, "repo")
    c_service = _col(c, "service").fillna(repo.where(repo.str.lower().isin(known)))
    first_line = _col(c, "message").str.split("\n", n=1).str[0].str.slice(0, 60)
    deployed_services = set(d_service.str.lower().dropna())
    com = pd.DataFrame(
        {
            "id": c_sha[undeployed],
            "kind": "commit",
            "service": c_service,
            "ts": c["ts"].to_numpy(dtype="datetime64[ns]").view("int64"),
            "status": np.nan,
            "environment": np.nan,
            "label": c_sha[undeployed].str[:8] + (" (" + first_line + ")").fillna(""),
            "lines": lines[undeployed],
            "files": files[undeployed],
            "fanout": 1.0,
            "source": "commit",
            "service_deploys_known": c_service.str.lower().isin(deployed_services),
        }
    )
    frame = pd.concat([dep, com], ignore_index=True) if len(com) else dep.reset_index(drop=True)
    for col in ("id", "kind", "service", "status", "environment", "label"):
        frame[col] = frame[col].astype("str")
    for col in ("lines", "files", "fanout"):
        frame[col] = frame[col].astype(float)
    frame["service_deploys_known"] = frame["service_deploys_known"].astype(bool)
    return frame


# ---------------------------------------------------------------- features


def _deploy_sequence(frame: pd.DataFrame, ref_ns: int, mitigation_ns: int | None) -> pd.DataFrame:
    """Per change: the rollback that undid it (and when), and the later deploy that superseded it."""
    out = pd.DataFrame(
        {"rollback_id": np.nan, "rollback_ts": np.nan, "rolls_back": np.nan, "superseded_by": np.nan},
        index=frame.index,
    ).astype({"rollback_id": "str", "rolls_back": "str", "superseded_by": "str"})
    fam = frame[frame["kind"].isin(["deploy", "rollback"]) & frame["service"].notna()]
    if fam.empty:
        return out
    # one deploy sequence per service and environment: a staging deploy does not replace production
    fam = fam.assign(lane=fam["service"] + "\x00" + fam["environment"].fillna(""))
    fam = fam.sort_values(["lane", "ts"], kind="stable")
    by_service = fam.groupby("lane", sort=False)
    next_id, next_ts = by_service["id"].shift(-1), by_service["ts"].shift(-1)
    is_rb = fam["kind"] == "rollback"
    target = fam["id"].where(~is_rb).groupby(fam["lane"]).ffill()
    target = target.where(is_rb)
    out.loc[target.index, "rolls_back"] = target

    superseded = next_ts.notna() & (next_ts < ref_ns)
    out.loc[fam.index[superseded.to_numpy()], "superseded_by"] = next_id[superseded]

    # rollback events: explicit rollback rows (for their target), else the next deploy of a change
    # whose own status says rolled_back
    events = pd.DataFrame({"target": target, "id": fam["id"], "ts": fam["ts"]}).dropna(subset=["target"])
    by_status = fam["status"].eq("rolled_back") & next_ts.notna()
    status_events = pd.DataFrame(
        {"target": fam["id"][by_status], "id": next_id[by_status], "ts": next_ts[by_status]}
    )
    events = pd.concat([events.assign(rank=0), status_events.assign(rank=1)], ignore_index=True)
    if events.empty:
        return out
    events["ts"] = events["ts"].astype("int64")
    events["gap"] = (events["ts"] - mitigation_ns).abs() if mitigation_ns is not None else 0
    events = events.sort_values(["rank", "gap", "ts"], kind="stable").drop_duplicates("target")
    index_of = pd.Series(frame.index, index=frame["id"]).groupby(level=0).first()
    rows = index_of.reindex(events["target"]).to_numpy()
    keep = ~pd.isna(rows)
    out.loc[rows[keep].astype(int), "rollback_id"] = events["id"].to_numpy()[keep]
    out.loc[rows[keep].astype(int), "rollback_ts"] = events["ts"].to_numpy()[keep]
    return out


def _relations(refs: Sequence[str], topology: Topology) -> dict[str, tuple[float, str, int, str]]:
    """Service name (lower case) -> (match, relation, hops, root) along the call graph from the roots."""
    calls: dict[str, set[str]] = {}
    callers: dict[str, set[str]] = {}
    for svc, callees in topology.services.items():
        for callee in callees:
            calls.setdefault(svc.lower(), set()).add(callee.lower())
            callers.setdefault(callee.lower(), set()).add(svc.lower())
    best: dict[str, tuple[float, str, int, str]] = {}

    def offer(name: str, match: float, relation: str, hops: int, root: str) -> None:
        if match > best.get(name, (-1.0,))[0]:
            best[name] = (match, relation, hops, root)

    for root in refs:
        start = root.lower()
        offer(start, SERVICE_SAME, "same", 0, root)
        for graph, relation, weight in (
            (calls, "dependency", SERVICE_DEPENDENCY),
            (callers, "caller", SERVICE_CALLER),
        ):
            seen, queue = {start}, deque([(start, 0)])
            while queue:
                node, hops = queue.popleft()
                if hops == MAX_HOPS:
                    continue
                for nxt in graph.get(node, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, hops + 1))
                        offer(nxt, weight * HOP_DECAY**hops, relation, hops + 1, root)
    return best


def _service_match(service: pd.Series, refs: Sequence[str], topology: Topology) -> pd.DataFrame:
    """Per change: service match score, relation to the root service, hop count and which root."""
    if not refs:
        return pd.DataFrame(
            {
                "service_match": SERVICE_NO_REFERENCE,
                "relation": "no_reference",
                "service_hops": -1.0,
                "root": "",
            },
            index=service.index,
        )
    related = _relations(refs, topology)
    in_topology = {s.lower() for s in topology.services}
    in_topology |= {c.lower() for callees in topology.services.values() for c in callees}
    roots_known = any(r.lower() in in_topology for r in refs)

    def relate(name: str) -> tuple[float, str, int, str]:
        if name in related:
            return related[name]
        if roots_known and name in in_topology:
            return (SERVICE_UNRELATED, "unrelated", -1, refs[0])
        return (SERVICE_UNKNOWN, "unknown", -1, refs[0])

    names = service.str.lower()
    table = pd.DataFrame(
        [relate(n) for n in names.dropna().unique()],
        index=names.dropna().unique(),
        columns=["service_match", "relation", "service_hops", "root"],
    )
    mapped = table.reindex(names.fillna("\x00").to_numpy()).set_axis(service.index)
    return mapped.fillna(
        {"service_match": SERVICE_UNKNOWN, "relation": "no_service", "service_hops": -1, "root": refs[0]}
    ).astype({"service_match": float, "service_hops": float})


def _features(
    frame: pd.DataFrame,
    ref_ns: int,
    mitigation_ns: int | None,
    refs: Sequence[str],
    topology: Topology,
) -> pd.DataFrame:
    """Compute every named feature and the final score, column-wise."""
    f = frame.join(_deploy_sequence(frame, ref_ns, mitigation_ns))
    minutes = (ref_ns - f["ts"].to_numpy()) / _NS_PER_MIN
    f["minutes_before_onset"] = minutes
    f["after_onset"] = minutes < -_minutes(CLOCK_SKEW)
    f["outside_lookback"] = minutes > _minutes(LOOKBACK)
    f["timing"] = np.exp(-np.clip(minutes, 0, None) / _minutes(TIME_DECAY))

    f = f.join(_service_match(f["service"], refs, topology))

    commit_prior = np.where(f["service_deploys_known"], COMMIT_PRIOR_UNDEPLOYED, COMMIT_PRIOR)
    prior = f["kind"].map(KIND_PRIOR).fillna(OTHER_KIND_PRIOR).to_numpy()
    f["kind_prior"] = np.where(f["source"] == "commit", commit_prior, prior)
    non_prod = f["environment"].str.contains(NON_PRODUCTION, na=False).to_numpy()
    f["environment_factor"] = np.where(non_prod, NON_PRODUCTION_FACTOR, 1.0)

    f["failed_or_rolled_back"] = f["status"].isin(["failed", "rolled_back"]).astype(float)
    # a rollback counts as evidence only when it came after the onset (a reaction to the incident)
    rb_minutes = (f["rollback_ts"].to_numpy(dtype=float) - ref_ns) / _NS_PER_MIN
    rb_after_onset = rb_minutes >= -_minutes(CLOCK_SKEW)
    if mitigation_ns is None:
        near = np.where(rb_after_onset, ROLLBACK_UNKNOWN_MITIGATION, 0.0)
    else:
        gap = np.abs(f["rollback_ts"].to_numpy(dtype=float) - mitigation_ns) / _NS_PER_MIN
        excess = np.clip(gap - _minutes(ROLLBACK_WINDOW), 0, None)
        near = np.where(rb_after_onset, np.exp(-excess / _minutes(ROLLBACK_DECAY)), 0.0)
    f["rollback_near_mitigation"] = near

    f["blast_radius"] = np.maximum.reduce(
        [
            np.clip(np.log1p(f["lines"]) / math.log1p(BLAST_LINES), 0, 1),
            np.clip(np.log1p(f["files"]) / math.log1p(BLAST_FILES), 0, 1),
            np.clip((f["fanout"] - 1) / (BLAST_FANOUT - 1), 0, 1),
        ]
    )
    f["superseded"] = f["superseded_by"].notna().astype(float)

    raw = f["timing"] * f["service_match"] * f["kind_prior"] * f["environment_factor"]
    pre = np.minimum(
        1.0, raw * (1 + STATUS_BOOST * f["failed_or_rolled_back"] + BLAST_BOOST * f["blast_radius"])
    )
    pre = pre + (1 - pre) * ROLLBACK_BOOST * f["rollback_near_mitigation"]
    pre = pre * np.where(f["superseded"] > 0, SUPERSEDED_FACTOR, 1.0)
    viable = ~(f["after_onset"] | f["outside_lookback"]).to_numpy()
    pre = np.where(viable, pre, 0.0)
    squares = pre**2
    total = squares.sum()
    f["credit_share"] = squares / total if total > 0 else 0.0
    f["score"] = np.round(pre * np.sqrt(f["credit_share"]), 4)
    ordered = np.sort(pre)
    f["competitors"] = np.where(
        pre > 0, len(pre) - np.searchsorted(ordered, COMPETITOR_RATIO * pre, side="left") - 1, 0
    )
    f["viable"] = viable
    f["relevance"] = (
        f["service_match"]
        * f["kind_prior"]
        * np.exp(-np.abs(minutes) / _minutes(TIME_DECAY))
        * f["environment_factor"]
    )
    return f


# ---------------------------------------------------------------- output


def _band(score: float, margin: float) -> Confidence:
    """Confidence band from the score and the margin over the next candidate."""
    if score >= HIGH[0] and margin >= HIGH[1]:
        return "high"
    if score >= MEDIUM[0] and margin >= MEDIUM[1]:
        return "medium"
    return "low"


_LOWER: dict[Confidence, Confidence] = {"high": "medium", "medium": "low", "low": "low"}


def _duration(minutes: float) -> str:
    minutes = abs(minutes)
    if minutes < 1:
        return "under 1 min"
    hours, mins = divmod(round(minutes), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _clock(ns: float) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%H:%MZ")


def _evidence(row: pd.Series, refs: Sequence[str], onset_known: bool, mitigation_ns: int | None) -> list[str]:
    """Human sentences explaining one candidate's features."""
    anchor = "the onset" if onset_known else "the incident start"
    where = f" in {', '.join(refs)}" if refs else ""
    minutes = row["minutes_before_onset"]
    if minutes >= 0:
        when = f"{_duration(minutes)} before {anchor}"
    else:
        when = f"{_duration(minutes)} after {anchor} (within the clock-skew tolerance)"
    subject = row["service"] if isinstance(row["service"], str) else "(no service named)"
    label = f" {row['label']}" if isinstance(row["label"], str) else ""
    verb = _VERBS.get(row["kind"], f"made a {row['kind']} change to")
    lines = [f"{verb} {subject}{label} {when}{where}"]
    relation, hops = row["relation"], int(row["service_hops"])
    hop_text = f"{hops} hop{'s' if hops != 1 else ''}"
    root = row["root"]
    lines.append(
        {
            "same": f"same service as the root service {root}",
            "dependency": f"{root} depends on {subject} ({hop_text} in the topology)",
            "caller": f"{subject} calls {root} ({hop_text} in the topology)",
            "unrelated": f"no path between {subject} and {root} in the topology",
            "unknown": f"{subject} is not in the topology: relation to {root} unknown",
            "no_service": "the change names no service",
            "no_reference": "no root service known to compare with",
        }[relation]
    )
    if row["failed_or_rolled_back"]:
        lines.append(f"its status is {row['status']}")
    if isinstance(row["rollback_id"], str):
        text = f"rolled back at {_clock(row['rollback_ts'])} ({row['rollback_id']})"
        if mitigation_ns is not None and row["rollback_near_mitigation"] > 0:
            gap = (mitigation_ns - row["rollback_ts"]) / _NS_PER_MIN
            side = "before" if gap >= 0 else "after"
            text += f", {_duration(gap)} {side} mitigation"
        lines.append(text)
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
    return lines


_FEATURES = (
    "minutes_before_onset",
    "timing",
    "service_match",
    "service_hops",
    "kind_prior",
    "environment_factor",
    "failed_or_rolled_back",
    "rollback_near_mitigation",
    "blast_radius",
    "lines",
    "files",
    "fanout",
    "superseded",
    "credit_share",
    "competitors",
)


def _rejection_reasons(f: pd.DataFrame) -> list[str]:
    """Why each change that is not a candidate was rejected (first matching reason wins)."""
    rules = [
        (f["after_onset"] & f["rolls_back"].notna(), "rollback of " + f["rolls_back"] + ": a mitigation"),
        (f["after_onset"], "after onset"),
        (f["outside_lookback"], "outside lookback"),
        (f["superseded_by"].notna(), "superseded by " + f["superseded_by"]),
        ((f["service_match"] < WEAK_SERVICE) & (f["timing"] < WEAK_TIMING), "unrelated service, weak timing"),
    ]
    reason = pd.Series("score below threshold", index=f.index, dtype=object)
    for condition, text in reversed(rules):
        reason = reason.mask(condition, text)
    return reason.tolist()


def correlate_changes(
    deploys: pd.DataFrame,
    commits: pd.DataFrame,
    incident: Incident,
    onset: Onset,
    services: Sequence[ServiceCandidate],
    topology: Topology,
) -> ChangeAttribution:
    """Score every change in the lookback against the onset; rank, band and explain them."""
    refs = _reference_services(services, onset, incident)
    requests: list[str] = []
    if deploys.empty:
        requests.append("no deploy data: add a deploy source")
    else:
        deployed = set(_col(deploys, "service").str.lower().dropna())
        requests += [f"no deploy data for service {r}" for r in refs if r.lower() not in deployed]
    if commits.empty:
        requests.append("no commit data: add a VCS source")
    if onset.ts is None:
        requests.append(f"no metric onset: add metrics for {', '.join(refs) or 'the affected services'}")
    ref_time = _reference_time(incident, onset)
    if ref_time is None:
        requests.append("no incident timestamps: add started_at to the incident record")
        return ChangeAttribution(evidence_requests=requests)
    if deploys.empty and commits.empty:
        return ChangeAttribution(evidence_requests=requests)

    known = {s.lower() for s in topology.services} | {s.lower() for s in incident.services}
    known |= set(_col(deploys, "service").str.lower().dropna())
    frame = _changes_frame(deploys, commits, known)
    mitigation = incident.mitigated_at or incident.resolved_at
    mitigation_ns = _ns(mitigation) if mitigation is not None else None
    f = _features(frame, _ns(ref_time), mitigation_ns, refs, topology)

    f = f.sort_values(["score", "minutes_before_onset", "id"], ascending=[False, True, True], kind="stable")
    kept = f["viable"] & (f["score"] >= CONTRIBUTORY_THRESHOLD)
    scores = f["score"].to_numpy()
    margins = scores - np.append(scores[1:], 0.0)
    onset_known = onset.ts is not None

    changes: list[ChangeCandidate] = []
    for pos in np.flatnonzero(kept.to_numpy())[:MAX_CANDIDATES]:
        row = f.iloc[pos]
        primary = pos == 0 and row["score"] >= PRIMARY_THRESHOLD
        band = _band(float(row["score"]), float(margins[pos]))
        features = {name: round(float(row[name]), 4) for name in _FEATURES}
        features["onset_known"] = float(onset_known)
        changes.append(
            ChangeCandidate(
                id=row["id"],
                kind=row["kind"],
                service=row["service"] if isinstance(row["service"], str) else None,
                ts=pd.Timestamp(int(row["ts"]), tz="UTC").to_pydatetime(),
                score=float(row["score"]),
                confidence=band if onset_known else _LOWER[band],
                role="primary" if primary else "contributory",
                evidence=_evidence(row, refs, onset_known, mitigation_ns),
                features=features,
            )
        )

    dropped = f[~kept.to_numpy()]
    dropped = dropped.sort_values(["relevance", "id"], ascending=[False, True], kind="stable").head(
        MAX_REJECTED
    )
    reasons = _rejection_reasons(dropped)
    rejected = [
        RejectedChange(
            id=row.id,
            kind=row.kind,
            service=row.service if isinstance(row.service, str) else None,
            ts=pd.Timestamp(int(row.ts), tz="UTC").to_pydatetime(),
            score=float(row.score),
            reason=reason,
        )
        for row, reason in zip(dropped.itertuples(index=False), reasons, strict=True)
    ]
    verdict = "change" if changes and changes[0].role == "primary" else "no_change_implicated"
    return ChangeAttribution(changes, rejected, verdict, requests)
