"""Change correlation: which deploy, config change, flag flip, migration or commit set off the incident.

Every change in the lookback is a hypothesis "this change caused the incident", next to the hypothesis
"no recorded change did". Each change's named features (kept in `ChangeCandidate.features`) give a
likelihood ratio: how much more often a causal change looks like this than an everyday change does.

    LR      = timing_lr * service_lr * reversal_lr * status_lr * blast_lr * environment_factor * superseded
    odds_j  = PRIOR_ODDS * prior_weight_j * LR_j        (against "no recorded change caused it")
    score_j = P(change j caused it) = odds_j / (1 + sum of odds over the changes in the lookback)
    P(no recorded change caused it) = 1 / (1 + sum of odds)

so the score is a posterior probability: changes in the same window share the credit, and a window
without a telling change leaves most of it to "no change implicated". The verdict is "change" when the
top score reaches PRIMARY_THRESHOLD; the confidence bands are score thresholds calibrated on the
evaluation harness (`python -m bench.eval.run`, docs/root-cause.md). Features are computed column-wise
over the whole changes frame; Python objects are built only for the candidates and rejections reported.
"""

from __future__ import annotations

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
from tasks.change_evidence import FEATURES, evidence, evidence_requests, rejection_reasons
from tasks.change_records import LINKED, changes_frame, reversals
from tasks.change_relations import root_weights, service_factors

# ---------------------------------------------------------------- model (docs/root-cause.md)
# prior odds that one production change caused the incident rather than no recorded change: with ~45
# production changes in a lookback they add up to odds 0.7 : 0.3, the share of outages set off by a
# change in the Google SRE book ("roughly 70%")
PRIOR_ODDS = 0.05
LOOKBACK = timedelta(hours=6)  # changes older than this before the onset are rejected
# timing: a causal change's lead before the onset is a mixture of a fast and a slow exponential
FAST_SHARE, FAST_TAU, SLOW_TAU = 0.7, timedelta(minutes=15), timedelta(hours=2)
CLOCK_SKEW = timedelta(minutes=5)  # a change recorded up to this long after the onset still counts ...
SKEW_DECAY = timedelta(minutes=2)  # ... with its timing factor decaying this fast
KIND_WEIGHT = {  # prior weight: how likely a record of this kind is a live production change
    "deploy": 1.0,
    "config": 1.0,
    "feature_flag": 1.0,
    "infra": 1.0,
    "migration": 1.0,
    "rollback": 0.3,  # mostly a mitigation; rarely the cause
}
OTHER_KIND_WEIGHT = 0.7
COMMIT_WEIGHT = 0.5  # a commit no deploy carries, in a service with no deploy data (it may be deployed)
COMMIT_WEIGHT_UNDEPLOYED = 0.05  # ... in a service whose deploys are known: probably not deployed yet
LINKED_REVERSAL_LR = 25.0  # an explicit rollback, a restored version or a revert commit, at the mitigation
# a reversal inferred from the next change of the same service and kind (status rolled_back: the next
# deploy; otherwise any next change of that kind) is weighed against how often such a change lands near
# the mitigation by chance, from the service's own change rate in the lookback:
#   chance = 1 - exp(-(changes of that service and kind in the lookback + 1) * 2 * REVERSAL_WINDOW / LOOKBACK)
#   LR     = (recall + (1 - recall) * chance) / chance
INFERRED_RECALL = {"status": 0.9, "corrective": 0.5}
STATUS_ONLY_LR = 3.0  # status rolled_back, and nothing says when
# a reversal is evidence when it is what ended the impact: within this of the mitigation it counts in
# full, and beyond it fades fast (rolled back long before the mitigation, the impact went on; long after,
# it was clean-up)
REVERSAL_WINDOW = timedelta(minutes=10)
REVERSAL_DECAY = timedelta(minutes=10)
UNKNOWN_MITIGATION_PROXIMITY = 0.5  # reversal after the onset, mitigation time unknown
FAILED_LR = 1.5  # status failed: a partial rollout
BLAST_WEIGHT = 1.0  # blast_lr = (1 + BLAST_WEIGHT * blast_radius) / (the same for the window's median change)
BLAST_LINES, BLAST_FILES, BLAST_FANOUT = 2000, 50, 5  # sizes that count as blast radius 1
SUPERSEDED_FACTOR = 0.3  # a later deploy of the same service went out before the onset
NON_PRODUCTION_FACTOR = 0.05
NON_PRODUCTION = r"^(?:dev|development|test|testing|qa|stag|staging|stage|sandbox|preview)\b"
WINDOW = timedelta(minutes=15)  # "changes in the same window": within this of each other

# ---------------------------------------------------------------- decisions (calibrated on the harness)
PRIMARY_THRESHOLD = 0.5  # the top candidate is "primary" (verdict "change") from this score ...
MEDIUM_THRESHOLD = PRIMARY_THRESHOLD  # ... which is also where the "medium" band starts
HIGH_THRESHOLD = 0.7
CANDIDATE_FLOOR = 0.01  # changes scoring less are rejected ("score below threshold")
COMPETITOR_RATIO = 0.5  # another change counts as a competitor from this fraction of the score
MAX_CANDIDATES = 20
MAX_REJECTED = 20
_NS_PER_MIN = 60e9


@dataclass(frozen=True)
class Anchors:
    """The incident times change scoring measures against, as int64 nanoseconds since the epoch."""

    onset: int  # metric onset, else the first incident milestone
    detection: int | None  # when people knew (detected, else acknowledged): reactions come after it
    mitigation: int | None  # mitigated, else resolved


@dataclass
class ChangeAttribution:
    """Ranked change candidates, the changes rejected with their reasons, and the verdict."""

    changes: list[ChangeCandidate] = field(default_factory=list)
    rejected: list[RejectedChange] = field(default_factory=list)
    verdict: Literal["change", "no_change_implicated"] = "no_change_implicated"
    evidence_requests: list[str] = field(default_factory=list)
    no_change_probability: float = 1.0


def _ns(value: datetime) -> int:
    return pd.Timestamp(value).as_unit("ns").value


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)


def _delta_ns(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1) * 1000


def _reference_time(incident: Incident, onset: Onset) -> datetime | None:
    """Onset if known, else the first incident milestone."""
    if onset.ts is not None:
        return onset.ts
    return next((t for t in incident.milestones().values() if t is not None), None)


def timing_lr(lead_minutes: np.ndarray) -> np.ndarray:
    """Likelihood ratio of a change `lead_minutes` before the onset (negative: after it) being causal."""
    fast, slow = _minutes(FAST_TAU), _minutes(SLOW_TAU)
    at_zero = FAST_SHARE / fast + (1 - FAST_SHARE) / slow
    lead = np.asarray(lead_minutes, dtype=float)
    ahead = np.clip(lead, 0, None)
    density = FAST_SHARE / fast * np.exp(-ahead / fast) + (1 - FAST_SHARE) / slow * np.exp(-ahead / slow)
    density = np.where(lead >= 0, density, at_zero * np.exp(np.clip(lead, None, 0) / _minutes(SKEW_DECAY)))
    return _minutes(LOOKBACK) * density  # against a uniform spread of everyday changes over the lookback


def _proximity(event_ns: np.ndarray, mitigation_ns: int | None) -> np.ndarray:
    """1 for an event within REVERSAL_WINDOW of the mitigation, decaying beyond it."""
    if mitigation_ns is None:
        return np.full(len(event_ns), UNKNOWN_MITIGATION_PROXIMITY)
    excess = np.clip(np.abs(event_ns - mitigation_ns) / _NS_PER_MIN - _minutes(REVERSAL_WINDOW), 0, None)
    return np.exp(-excess / _minutes(REVERSAL_DECAY))


def _same_kind_counts(f: pd.DataFrame, viable: np.ndarray) -> np.ndarray:
    """Per change: how many other changes of its service and kind fall in the lookback before the onset."""
    key = f["service"].str.lower().fillna("") + "\x00" + f["kind"]
    counts = key[viable].value_counts()
    return key.map(counts).fillna(0).to_numpy() - viable


def _reversal_lr(f: pd.DataFrame, at: Anchors, viable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood ratio from what undid the change in response to the incident, and its proximity to the
    mitigation. A response comes after the detection (when known), or is itself the mitigation."""
    how = f["reversal_how"].to_numpy(dtype=object)
    event = f["reversal_ts"].to_numpy(dtype=float)
    when = np.nan_to_num(event, nan=-np.inf)
    skew = _delta_ns(CLOCK_SKEW)
    reaction = when >= (at.detection if at.detection is not None else at.onset) - skew
    if at.mitigation is not None:
        reaction |= np.abs(when - at.mitigation) <= _delta_ns(REVERSAL_WINDOW)
    reaction &= when >= at.onset - skew
    proximity = np.where(reaction, _proximity(np.nan_to_num(event, nan=0.0), at.mitigation), 0.0)
    window_share = 2 * REVERSAL_WINDOW / LOOKBACK
    chance = 1 - np.exp(-(_same_kind_counts(f, viable) + 1) * window_share)
    recall = pd.Series(how).map(INFERRED_RECALL).to_numpy(dtype=float)
    inferred = (recall + (1 - recall) * chance) / chance
    linked = np.isin(how, LINKED)
    strength = np.where(linked, LINKED_REVERSAL_LR, np.nan_to_num(inferred, nan=1.0))
    lr = np.where(reaction, 1 + (strength - 1) * proximity, 1.0)
    status_only = (how == "status") & np.isnan(event)
    return np.where(status_only, STATUS_ONLY_LR, lr), proximity


def _blast_radius(f: pd.DataFrame) -> np.ndarray:
    """0..1: the larger of changed lines, files touched and services deployed with the same commit."""
    return np.maximum.reduce(
        [
            np.clip(np.log1p(f["lines"]) / np.log1p(BLAST_LINES), 0, 1),
            np.clip(np.log1p(f["files"]) / np.log1p(BLAST_FILES), 0, 1),
            np.clip((f["fanout"] - 1) / (BLAST_FANOUT - 1), 0, 1),
        ]
    )


def score_changes(
    frame: pd.DataFrame,
    commits: pd.DataFrame,
    at: Anchors,
    roots: dict[str, float],
    topology: Topology,
    key_len: int,
) -> tuple[pd.DataFrame, float]:
    """Every named feature, the likelihood ratio and the posterior score per change, column-wise; and the
    probability that no recorded change caused the incident."""
    f = frame.join(reversals(frame, commits, at.onset, at.mitigation, key_len))
    lead = (at.onset - f["ts"].to_numpy(dtype=float)) / _NS_PER_MIN
    f["minutes_before_onset"] = lead
    f["after_onset"] = lead < -_minutes(CLOCK_SKEW)
    f["outside_lookback"] = lead > _minutes(LOOKBACK)
    f["timing_lr"] = timing_lr(lead)
    viable = ~(f["after_onset"] | f["outside_lookback"]).to_numpy()
    f = f.join(service_factors(f["service"], roots, topology))

    weights = f["kind"].map(KIND_WEIGHT).fillna(OTHER_KIND_WEIGHT).to_numpy()
    commit_weight = np.where(f["service_deploys_known"], COMMIT_WEIGHT_UNDEPLOYED, COMMIT_WEIGHT)
    f["prior_weight"] = np.where(f["source"] == "commit", commit_weight, weights)
    non_prod = f["environment"].astype("str").str.contains(NON_PRODUCTION, case=False, regex=True)
    f["environment_factor"] = np.where(non_prod & f["environment"].notna(), NON_PRODUCTION_FACTOR, 1.0)
    f["failed"] = f["status"].eq("failed").astype(float)
    f["status_lr"] = np.where(f["failed"] > 0, FAILED_LR, 1.0)
    f["reversal_lr"], f["reversal_proximity"] = _reversal_lr(f, at, viable)
    f["blast_radius"] = _blast_radius(f)
    typical = float(np.median(f["blast_radius"].to_numpy()[viable])) if viable.any() else 0.0
    f["blast_lr"] = (1 + BLAST_WEIGHT * f["blast_radius"]) / (1 + BLAST_WEIGHT * typical)
    f["superseded"] = f["superseded_by"].notna().astype(float)
    f["superseded_factor"] = np.where(f["superseded"] > 0, SUPERSEDED_FACTOR, 1.0)
    f["likelihood_ratio"] = (
        f["timing_lr"]
        * f["service_lr"]
        * f["reversal_lr"]
        * f["status_lr"]
        * f["blast_lr"]
        * f["environment_factor"]
        * f["superseded_factor"]
    )
    odds = np.where(viable, PRIOR_ODDS * f["prior_weight"] * f["likelihood_ratio"], 0.0)
    denominator = 1 + odds.sum()
    posterior = odds / denominator
    f["score"] = np.round(posterior, 4)
    f["viable"] = viable
    explained = posterior.sum()
    f["credit_share"] = posterior / explained if explained > 0 else 0.0
    ordered = np.sort(posterior)
    f["competitors"] = np.where(
        posterior > 0, len(posterior) - np.searchsorted(ordered, COMPETITOR_RATIO * posterior) - 1, 0
    )
    stamps = np.sort(f["ts"].to_numpy()[viable])
    window = _delta_ns(WINDOW)
    ts = f["ts"].to_numpy()
    f["window_changes"] = np.where(
        viable,
        np.searchsorted(stamps, ts + window, side="right") - np.searchsorted(stamps, ts - window) - 1,
        0,
    )
    return f, float(1 / denominator)


def band(score: float, onset_known: bool) -> Confidence:
    """Confidence band of a score (one band lower when the onset is unknown)."""
    level = 2 if score >= HIGH_THRESHOLD else 1 if score >= MEDIUM_THRESHOLD else 0
    if not onset_known:
        level = max(0, level - 1)
    return ("low", "medium", "high")[level]  # type: ignore[return-value]


def _timestamp(ns: float) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


def correlate_changes(
    deploys: pd.DataFrame,
    commits: pd.DataFrame,
    incident: Incident,
    onset: Onset,
    services: Sequence[ServiceCandidate],
    topology: Topology,
) -> ChangeAttribution:
    """Score every change in the lookback against the onset; rank, band and explain them."""
    roots = root_weights(services, onset, incident)
    ref_time = _reference_time(incident, onset)
    if ref_time is None or (deploys.empty and commits.empty):
        requests = evidence_requests(
            deploys, commits, incident, onset, roots, topology, None, PRIMARY_THRESHOLD
        )
        return ChangeAttribution(evidence_requests=requests)

    known = {s.lower() for s in topology.services} | {s.lower() for s in incident.services}
    frame, key_len = changes_frame(deploys, commits, known)
    mitigation = incident.mitigated_at or incident.resolved_at
    detection = incident.detected_at or incident.acknowledged_at
    at = Anchors(
        onset=_ns(ref_time),
        detection=_ns(detection) if detection is not None else None,
        mitigation=_ns(mitigation) if mitigation is not None else None,
    )
    f, no_change = score_changes(frame, commits, at, roots, topology, key_len)
    f = f.sort_values(["score", "minutes_before_onset", "id"], ascending=[False, True, True], kind="stable")
    kept = (f["viable"] & (f["score"] >= CANDIDATE_FLOOR)).to_numpy()
    onset_known = onset.ts is not None
    top_score = float(f["score"].iloc[0]) if len(f) else 0.0
    verdict: Literal["change", "no_change_implicated"] = (
        "change" if kept.any() and kept[0] and top_score >= PRIMARY_THRESHOLD else "no_change_implicated"
    )

    changes: list[ChangeCandidate] = []
    positions = np.flatnonzero(kept)[:MAX_CANDIDATES]
    for pos, row in zip(positions, f.iloc[positions].to_dict("records"), strict=True):
        primary = pos == 0 and verdict == "change"
        features = {name: round(float(row[name]), 4) for name in FEATURES}
        features["onset_known"] = float(onset_known)
        features["no_change_probability"] = round(no_change, 4)
        changes.append(
            ChangeCandidate(
                id=row["id"],
                kind=row["kind"],
                service=row["service"] if isinstance(row["service"], str) else None,
                ts=_timestamp(row["ts"]),
                score=float(row["score"]),
                confidence=band(float(row["score"]), onset_known),
                role="primary" if primary else "contributory",
                evidence=evidence(row, onset_known, at.mitigation, no_change if primary else None),
                features=features,
            )
        )
    dropped = f[~kept]
    relevance = dropped["prior_weight"] * dropped["timing_lr"] * dropped["service_lr"]
    dropped = dropped.assign(relevance=relevance).sort_values(
        ["relevance", "id"], ascending=[False, True], kind="stable"
    )
    dropped = dropped.head(MAX_REJECTED)
    rejected = [
        RejectedChange(
            id=row.id,
            kind=row.kind,
            service=row.service if isinstance(row.service, str) else None,
            ts=_timestamp(row.ts),
            score=float(row.score),
            reason=reason,
        )
        for row, reason in zip(dropped.itertuples(index=False), rejection_reasons(dropped), strict=True)
    ]
    requests = evidence_requests(deploys, commits, incident, onset, roots, topology, f, PRIMARY_THRESHOLD)
    return ChangeAttribution(changes, rejected, verdict, requests, no_change)
