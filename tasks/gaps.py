"""Gaps in the evidence and in the response: what the postmortem cannot see, and what monitoring missed.

Kinds, in report order:
- missing_source: an optional evidence file (or the topology) is absent or empty;
- no_telemetry_for_service: a service of the incident has neither metrics nor logs;
- silent_period: during [impact start, resolution] a service that normally emits metrics (or logs) is
  silent for longer than max(SILENT_FACTOR x its usual interval, LONGEST_FACTOR x its longest silence
  before the incident, SILENT_MIN);
- late_detection: detection came more than LATE_DETECTION after the impact start;
- detection_lag: the first alert fired after detection (people noticed before monitoring did), or no
  alert fired at all;
- missing_runbook: an alert firing during the incident on one of its services (on any service when none
  of them alerted) carries no runbook link (`runbook_url` or `runbook` in its labels, annotations or own
  fields); one gap per alert name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from connectors.bundle_format import DATASETS
from postmortem.model import Gap, Incident, Moments, Topology

# A silence overlapping the incident by more than the largest of these is a silent period; "usual" and
# "longest" are the median and longest intervals of the service before the impact start (bursty sources
# such as logs have long quiet spells even when healthy: the longest one sets their bar).
SILENT_FACTOR = 5  # x the usual interval
LONGEST_FACTOR = 1.5  # x the longest silence before the incident
SILENT_MIN = timedelta(minutes=5)
MIN_EMITS = 10  # a service "normally emits" a source with this many distinct timestamps before the incident
SILENT_SOURCES = ("metrics", "logs")
LATE_DETECTION = timedelta(minutes=15)
DETECTION_TOLERANCE = timedelta(minutes=1)  # detection times are often recorded to the minute
RUNBOOK_KEYS = ("runbook_url", "runbook")
RUNBOOK_HOLDERS = ("labels", "annotations")  # dict columns that may carry the runbook link
KIND_ORDER = (
    "missing_source",
    "no_telemetry_for_service",
    "silent_period",
    "late_detection",
    "detection_lag",
    "missing_runbook",
)
CONSEQUENCES = {
    "alerts": "the first alert and the detection lag cannot be measured",
    "metrics": "the anomaly onset and the service ranking cannot be computed",
    "logs": "log patterns cannot be mined",
    "commits": "commits cannot be correlated with the onset",
    "deploys": "deploys, rollbacks, config changes and flag flips cannot be correlated with the onset",
    "chat": "the responders' own account of the incident is missing",
    "tickets": "linked tickets and customer reports are missing",
    "topology": "the service ranking cannot tell causes from symptoms",
}
NAT = np.iinfo(np.int64).min  # pandas' NaT as int64


def _hm(ts: datetime) -> str:
    """Clock time for a detail sentence: HH:MMZ, or HH:MM:SSZ when the seconds matter."""
    return ts.strftime("%H:%MZ" if ts.second == 0 else "%H:%M:%SZ")


def _span(delta: timedelta) -> str:
    """A human duration: 45 s, 3 min, 1 h 5 min."""
    secs = round(abs(delta.total_seconds()))
    if secs < 60:
        return f"{secs} s"
    mins = round(secs / 60)
    return f"{mins} min" if mins < 60 else f"{mins // 60} h {mins % 60} min"


def _datetime(ns: int) -> datetime:
    """int64 nanoseconds since the epoch as an aware UTC datetime (to the microsecond)."""
    return pd.Timestamp(int(ns), unit="ns", tz=UTC).floor("us").to_pydatetime()


# ---------------------------------------------------------------- one finder per kind


def _missing_sources(frames: Mapping[str, pd.DataFrame], present: set[str], topology: Topology) -> list[Gap]:
    """Evidence files absent or empty, and a missing topology."""
    gaps = []
    for name, spec in DATASETS.items():
        frame = frames.get(name)
        if spec.file not in present:
            state = "absent"
        elif frame is None or frame.empty:
            state = "empty"
        else:
            continue
        gaps.append(
            Gap(kind="missing_source", source=name, detail=f"{spec.file} is {state}: {CONSEQUENCES[name]}.")
        )
    if "topology.json" not in present or not topology.services:
        state = "absent" if "topology.json" not in present else "empty"
        gaps.append(
            Gap(
                kind="missing_source",
                source="topology",
                detail=f"topology.json is {state}: {CONSEQUENCES['topology']}.",
            )
        )
    return gaps


def _no_telemetry(incident: Incident, frames: Mapping[str, pd.DataFrame], topology: Topology) -> list[Gap]:
    """Services of the incident with neither metrics nor logs."""
    seen: set[str] = set()
    for name in SILENT_SOURCES:
        frame = frames.get(name)
        if frame is not None and not frame.empty and "service" in frame.columns:
            seen.update(frame["service"].dropna().unique().tolist())
    gaps = []
    for service in dict.fromkeys(incident.services):
        if service in seen:
            continue
        called_by = sorted(c for c, callees in topology.services.items() if service in callees)
        context = f" (called by {', '.join(called_by)})" if called_by else ""
        gaps.append(
            Gap(
                kind="no_telemetry_for_service",
                service=service,
                detail=f"{service}{context} is part of the incident but has no metrics and no logs: "
                "its own behaviour cannot be checked.",
            )
        )
    return gaps


def _by_service_then_time(code: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Permutation sorting points by service then time (a cheap stable sort when time is already sorted)."""
    if (np.diff(ts) >= 0).all():
        small = np.int16 if code.max() < np.iinfo(np.int16).max else np.int64
        return np.argsort(code.astype(small), kind="stable")  # radix sort on 16-bit codes
    low = int(ts.min())
    span = int(ts.max()) - low + 1
    if span * (int(code.max()) + 1) < 2**62:
        return np.argsort(code * span + (ts - low), kind="stable")
    return np.lexsort((ts, code))


def _silent_periods(frame: pd.DataFrame, source: str, start: datetime, end: datetime) -> list[Gap]:
    """Per service, silences overlapping [start, end] longer than its usual interval allows."""
    if frame.empty or "service" not in frame.columns:
        return []
    service_code, services = frame["service"].factorize()
    ts = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("ns").array.asi8
    ok = (service_code >= 0) & (ts != NAT)
    code, ts = service_code[ok].astype(np.int64), ts[ok]
    if not len(ts):
        return []
    order = _by_service_then_time(code, ts)
    code, ts = code[order], ts[order]
    distinct = np.ones(len(ts), dtype=bool)
    distinct[1:] = (code[1:] != code[:-1]) | (ts[1:] != ts[:-1])
    code, ts = code[distinct], ts[distinct]
    n_services = len(services)
    lo, hi = pd.Timestamp(start).as_unit("ns").value, pd.Timestamp(end).as_unit("ns").value
    normal = np.bincount(code[ts < lo], minlength=n_services) >= MIN_EMITS  # emits before the incident
    same = code[1:] == code[:-1]
    before = same & (ts[1:] <= lo)  # intervals of the baseline, before the impact start
    intervals = pd.Series(np.diff(ts)[before]).groupby(code[1:][before])
    usual = intervals.median().reindex(range(n_services)).to_numpy()
    longest = intervals.max().reindex(range(n_services)).to_numpy(dtype="float64")
    limit = np.fmax.reduce(
        [
            SILENT_FACTOR * usual,
            LONGEST_FACTOR * longest,
            np.full(n_services, SILENT_MIN.total_seconds() * 1e9),
        ]
    )

    last = np.flatnonzero(np.append(~same, True))  # each service's last point
    # candidate silences: between consecutive points, and after the last point until the end
    silent_from = np.concatenate([ts[:-1][same], ts[last]])
    silent_to = np.concatenate([ts[1:][same], np.full(len(last), hi)])
    owner = np.concatenate([code[1:][same], code[last]])
    trailing = np.repeat([False, True], [int(same.sum()), len(last)])
    overlap = np.minimum(silent_to, hi) - np.maximum(silent_from, lo)
    flagged = np.flatnonzero((overlap > limit[owner]) & normal[owner] & np.isfinite(usual[owner]))
    gaps = []
    for i in flagged[np.lexsort((owner[flagged], silent_from[flagged]))]:
        service = str(services[owner[i]])
        begin, stop = _datetime(silent_from[i]), _datetime(silent_to[i])
        if trailing[i]:
            text = (
                f"no {source} from {service} after {_hm(begin)}, up to the end of the incident at {_hm(stop)}"
            )
        else:
            text = f"no {source} from {service} between {_hm(begin)} and {_hm(stop)}"
        usual_every = _span(timedelta(seconds=float(usual[owner[i]]) / 1e9))
        gaps.append(
            Gap(
                kind="silent_period",
                source=source,
                service=service,
                start=begin,
                end=stop,
                detail=f"{text} ({_span(stop - begin)}; it usually emits every {usual_every}).",
            )
        )
    return gaps


def _detection(moments: Moments, present: set[str]) -> list[Gap]:
    """Late detection, and an alert that came after detection or never."""
    gaps = []
    start, detection, alert = moments.impact_start, moments.detection, moments.first_alert
    if start is not None and detection is not None and detection - start > LATE_DETECTION:
        gaps.append(
            Gap(
                kind="late_detection",
                start=start,
                end=detection,
                detail=f"the incident was detected at {_hm(detection)}, {_span(detection - start)} after the "
                f"impact started at {_hm(start)} (more than {_span(LATE_DETECTION)}).",
            )
        )
    if alert is None:
        why = "alerts.jsonl is absent" if "alerts.jsonl" not in present else "none of the alerts matched it"
        who = f"; it was detected at {_hm(detection)} by other means" if detection is not None else ""
        gaps.append(
            Gap(
                kind="detection_lag",
                source="alerts",
                start=start,
                detail=f"no alert fired for this incident ({why}){who}.",
            )
        )
    elif detection is not None and alert > detection + DETECTION_TOLERANCE:
        gaps.append(
            Gap(
                kind="detection_lag",
                source="alerts",
                start=detection,
                end=alert,
                detail=f"the first alert fired at {_hm(alert)}, {_span(alert - detection)} after "
                f"detection at {_hm(detection)}: people noticed before monitoring did.",
            )
        )
    return gaps


def _has_key(values: pd.Series) -> pd.Series:
    """Whether each dict-valued cell carries a non-empty runbook key."""
    return values.map(lambda d: isinstance(d, dict) and any(d.get(k) for k in RUNBOOK_KEYS)).astype(bool)


def _missing_runbooks(
    incident: Incident, alerts: pd.DataFrame, start: datetime | None, end: datetime | None
) -> list[Gap]:
    """One gap per alert name that fired during the incident, on its services, without a runbook link."""
    if alerts.empty or start is None:
        return []
    firing = alerts["ts"].notna()
    if end is not None:
        firing &= alerts["ts"] <= end
    if "ends_at" in alerts.columns:
        firing &= alerts["ends_at"].isna() | (alerts["ends_at"] >= start)
    if "service" in alerts.columns:
        ours = firing & alerts["service"].isin(set(incident.services))
        firing = ours if ours.any() else firing
    rows = alerts.loc[firing]
    if rows.empty:
        return []
    linked = pd.Series(False, index=rows.index)
    for holder in RUNBOOK_HOLDERS:
        if holder in rows.columns:
            linked |= _has_key(rows[holder])
    for key in RUNBOOK_KEYS:
        if key in rows.columns:
            text = rows[key].astype("string")
            linked |= (text.notna() & (text.str.strip() != "")).fillna(False).astype(bool)
    bare = rows.loc[~linked]
    if bare.empty:
        return []
    names = bare["name"].astype("string").fillna("(unnamed)") if "name" in bare else "(unnamed)"
    services = bare["service"] if "service" in bare.columns else pd.Series(None, index=bare.index)
    summary = (
        pd.DataFrame({"name": names, "service": services, "ts": bare["ts"]})
        .groupby("name", sort=True)
        .agg(
            times=("ts", "size"),
            first=("ts", "min"),
            services=("service", lambda s: sorted(s.dropna().unique())),
        )
    )
    gaps = []
    for name, times, first, on in summary.itertuples(name=None):
        where = f" on {', '.join(map(str, on))}" if on else ""
        gaps.append(
            Gap(
                kind="missing_runbook",
                source="alerts",
                service=str(on[0]) if len(on) == 1 else None,
                start=first.floor("us").to_pydatetime(),
                detail=f"alert {name} fired {times} time{'s' if times > 1 else ''}{where} during the "
                "incident without a runbook link (runbook_url).",
            )
        )
    return gaps


def find_gaps(
    incident: Incident,
    frames: Mapping[str, pd.DataFrame],
    present: set[str],
    moments: Moments,
    topology: Topology,
) -> list[Gap]:
    """Every gap found, ordered by KIND_ORDER then time."""
    gaps = _missing_sources(frames, present, topology)
    gaps += _no_telemetry(incident, frames, topology)
    start = moments.impact_start or moments.first_anomaly or moments.detection
    end = moments.resolution or moments.mitigation
    if start is not None and end is not None and end > start:
        for source in SILENT_SOURCES:
            gaps += _silent_periods(frames.get(source, pd.DataFrame()), source, start, end)
    gaps += _detection(moments, present)
    gaps += _missing_runbooks(incident, frames.get("alerts", pd.DataFrame()), start, end)
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(gaps, key=lambda g: (rank[g.kind], g.start or never, g.service or "", g.source or ""))
