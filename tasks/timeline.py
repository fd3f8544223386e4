"""The merged machine timeline, the key moments of the incident and the durations between them.

The timeline holds one row per milestone, alert firing/resolution, change, commit, chat message, ticket,
metric onset and log pattern (raw log lines and metric points are summarised by the last two). Each
source is turned into rows column-wise, the parts are concatenated once and sorted by time; rows at the
same instant follow SOURCE_ORDER (causes before effects before the response), then their input order.
Summaries are assembled with arrow compute kernels, a few calls per source whatever its size.
Evidence outside `connectors.bundle.incident_window` is left out; the incident's milestones never are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.bundle import incident_window
from postmortem.model import Durations, Incident, LogPattern, MetricCandidate, Moments, Onset

COLUMNS = ["ts", "source", "kind", "service", "summary", "ref"]
# tie order at the same instant: changes, then their effects, then the response
SOURCE_ORDER = ("deploys", "commits", "metrics", "logs", "alerts", "incident", "chat", "tickets")
TEXT_LIMIT = 200  # characters of a chat message, commit subject or log template kept in a summary
ALERT_LEAD = timedelta(minutes=30)  # an alert this long before the recorded impact start can be the first
ONSET_ALERT_LEAD = timedelta(minutes=5)  # ... only this long before it when the metrics date the onset
ROLLBACK_KINDS = ("rollback",)

DURATION_DEFINITIONS: dict[str, str] = {
    "version": "durations v1 (2026-11): seconds between key moments; negative values are kept, not clipped",
    "time_to_detect": "detection (incident detected_at, else the first alert) minus impact start "
    "(incident started_at, else the first metric anomaly)",
    "time_to_acknowledge": "acknowledgement (incident acknowledged_at) minus detection",
    "time_to_mitigate": "mitigation (incident mitigated_at, else the first rollback after impact start) "
    "minus impact start",
    "time_to_resolve": "resolution (incident resolved_at) minus impact start",
}


# ---------------------------------------------------------------- column helpers (arrow compute)

Window = tuple[datetime | None, datetime | None]
_NULL = pa.scalar(None, pa.string())


def _strings(column: pd.Series) -> pa.Array:
    """A column as an arrow string array; missing and blank values are null."""
    if str(column.dtype) not in ("str", "string"):
        column = column.astype("string")
    text = pa.array(column, from_pandas=True).cast(pa.string())
    return pc.if_else(pc.equal(pc.utf8_trim_whitespace(text), ""), _NULL, text)


def _opt(prefix: str, text: pa.Array, suffix: str = "") -> pa.Array:
    """`prefix + value + suffix` where the value is present, else the empty string."""
    return pc.fill_null(pc.binary_join_element_wise(prefix, text, suffix, ""), "")


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays (and constants)."""
    return pc.binary_join_element_wise(*parts, "")


def _clip(text: pa.Array, limit: int = TEXT_LIMIT) -> pa.Array:
    """Text cut to `limit` characters, with an ellipsis when cut."""
    cut = _join(pc.utf8_slice_codeunits(text, 0, limit - 1), "…")
    return pc.if_else(pc.greater(pc.utf8_length(text), limit), cut, text)


def _timestamps(values: pd.Series | list[datetime]) -> pa.Array:
    """Timestamps as arrow timestamp[ns, UTC]."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.as_unit("ns")
    return pa.array(stamps, from_pandas=True).cast(pa.timestamp("ns", "UTC"))


def _select(frame: pd.DataFrame, column: str, window: Window) -> pd.DataFrame:
    """The rows whose `column` timestamp is present and inside the window (any time when there is none)."""
    if frame.empty or column not in frame.columns:
        return frame.iloc[0:0]
    stamps = frame[column]
    keep = stamps.notna()
    lo, hi = window
    if lo is not None and hi is not None:
        keep &= (stamps >= lo) & (stamps <= hi)
    return frame.loc[keep.to_numpy()]


def _column(frame: pd.DataFrame, name: str) -> pa.Array:
    """A text column of the frame as arrow strings (all null when the frame lacks it)."""
    if name not in frame.columns:
        return pa.nulls(len(frame), pa.string())
    return _strings(frame[name])


def _rows(
    source: str,
    ts: pa.Array,
    kind: pa.Array | str,
    service: pa.Array | None,
    summary: pa.Array,
    ref: pa.Array | None,
) -> pa.Table:
    """One source's timeline rows."""
    n = len(ts)
    blank = pa.nulls(n, pa.string())
    return pa.table(
        {
            "ts": ts,
            "source": pa.repeat(pa.scalar(source), n) if n else pa.nulls(0, pa.string()),
            "kind": kind if isinstance(kind, pa.Array) else pa.array([kind] * n, pa.string()),
            "service": service if service is not None else blank,
            "summary": summary,
            "ref": ref if ref is not None else blank,
        }
    )


# ---------------------------------------------------------------- one builder per source


def _milestones(incident: Incident) -> pa.Table:
    """The incident's own milestones (never windowed)."""
    stamps = {name.removesuffix("_at"): ts for name, ts in incident.milestones().items() if ts is not None}
    summaries = [
        f"Incident {kind}" + (f": {incident.title}" if kind == "started" and incident.title else "")
        for kind in stamps
    ]
    return _rows(
        "incident",
        _timestamps(list(stamps.values())),
        pa.array(list(stamps), pa.string()),
        None,
        pa.array(summaries, pa.string()),
        pa.array([incident.id] * len(stamps), pa.string()),
    )


def _alerts(alerts: pd.DataFrame, window: Window) -> list[pa.Table]:
    """`alert_firing` at each alert's start, `alert_resolved` at its end when known."""
    parts = []
    for column, kind, verb in (("ts", "alert_firing", "firing"), ("ends_at", "alert_resolved", "resolved")):
        rows = _select(alerts, column, window)
        if rows.empty:
            continue
        service = _column(rows, "service")
        summary = _join(pc.fill_null(_column(rows, "name"), "alert"), f" {verb}", _opt(" on ", service))
        if kind == "alert_firing":
            summary = _join(summary, _opt(" (", _column(rows, "severity"), ")"))
        ref = pc.coalesce(_column(rows, "id"), _column(rows, "url"))
        parts.append(_rows("alerts", _timestamps(rows[column]), kind, service, summary, ref))
    return parts


def _changes(deploys: pd.DataFrame, window: Window) -> list[pa.Table]:
    """One row per change, kind = the change kind (deploy, rollback, config, feature_flag, ...)."""
    rows = _select(deploys, "ts", window)
    if rows.empty:
        return []
    kind = pc.fill_null(_column(rows, "kind"), "change")
    service = _column(rows, "service")
    summary = _join(
        pc.replace_substring(kind, "_", " "),
        _opt(" of ", service),
        _opt(" ", _column(rows, "version")),
        _opt(" in ", _column(rows, "environment")),
        _opt(" (", _column(rows, "status"), ")"),
        _opt(" by ", _column(rows, "actor")),
    )
    return [_rows("deploys", _timestamps(rows["ts"]), kind, service, summary, _column(rows, "id"))]


def _commits(commits: pd.DataFrame, window: Window) -> list[pa.Table]:
    """One row per commit: the subject line and the repository."""
    rows = _select(commits, "ts", window)
    if rows.empty:
        return []
    subject = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(_column(rows, "message"), r"(?s)[\r\n].*", "")
    )
    subject = pc.if_else(pc.equal(subject, ""), _NULL, subject)
    summary = _join(_clip(pc.fill_null(subject, "(no message)")), _opt(" (", _column(rows, "repo"), ")"))
    ts = _timestamps(rows["ts"])
    return [_rows("commits", ts, "commit", _column(rows, "service"), summary, _column(rows, "sha"))]


def _chat(chat: pd.DataFrame, window: Window) -> list[pa.Table]:
    """One row per message: `user: text`, cut to TEXT_LIMIT; ref is the channel."""
    rows = _select(chat, "ts", window)
    if rows.empty:
        return []
    user = pc.fill_null(_column(rows, "user"), "someone")
    summary = _clip(_join(user, ": ", pc.fill_null(_column(rows, "text"), "")))
    return [_rows("chat", _timestamps(rows["ts"]), "message", None, summary, _column(rows, "channel"))]


def _tickets(tickets: pd.DataFrame, window: Window) -> list[pa.Table]:
    """One row per ticket: key, title and status."""
    rows = _select(tickets, "ts", window)
    if rows.empty:
        return []
    key = _column(rows, "key")
    summary = _join(
        pc.fill_null(key, "ticket"),
        _opt(" ", _column(rows, "title")),
        _opt(" (", _column(rows, "status"), ")"),
    )
    return [_rows("tickets", _timestamps(rows["ts"]), "ticket", None, summary, key)]


def _onsets(metrics: Sequence[MetricCandidate], window: Window) -> list[pa.Table]:
    """One `anomaly_onset` per metric series with an onset inside the window."""
    lo, hi = window
    dated = [m for m in metrics if m.onset is not None and (lo is None or hi is None or lo <= m.onset <= hi)]
    if not dated:
        return []
    return [
        _rows(
            "metrics",
            _timestamps([m.onset for m in dated]),
            "anomaly_onset",
            pa.array([m.service for m in dated], pa.string()),
            pa.array(
                [f"{m.metric} deviated from its baseline (score {m.score:.2f})" for m in dated], pa.string()
            ),
            pa.array([m.metric for m in dated], pa.string()),
        )
    ]


def _patterns(patterns: Sequence[LogPattern], window: Window) -> list[pa.Table]:
    """One `log_pattern_first_seen` per log pattern first seen inside the window: its template and count."""
    lo, hi = window
    seen = [p for p in patterns if lo is None or hi is None or lo <= p.first_seen <= hi]
    if not seen:
        return []
    summaries = pa.array(
        [f"{'new pattern' if p.new else 'pattern'} first seen ({p.count} lines): {p.template}" for p in seen],
        pa.string(),
    )
    return [
        _rows(
            "logs",
            _timestamps([p.first_seen for p in seen]),
            "log_pattern_first_seen",
            pa.array([p.service for p in seen], pa.string()),
            _clip(summaries, TEXT_LIMIT + 60),
            None,
        )
    ]


_BUILDERS: dict[str, Callable[[pd.DataFrame, Window], list[pa.Table]]] = {
    "alerts": _alerts,
    "deploys": _changes,
    "commits": _commits,
    "chat": _chat,
    "tickets": _tickets,
}


def build_timeline(
    incident: Incident,
    frames: Mapping[str, pd.DataFrame],
    metrics: Sequence[MetricCandidate],
    log_patterns: Sequence[LogPattern],
) -> pd.DataFrame:
    """The merged timeline (columns COLUMNS), sorted by time then SOURCE_ORDER then input order."""
    window = incident_window(incident)
    parts = [_milestones(incident)]
    for name, build in _BUILDERS.items():
        frame = frames.get(name)
        if frame is not None and not frame.empty:
            parts += build(frame, window)
    parts += _onsets(metrics, window) + _patterns(log_patterns, window)
    table = pa.concat_tables(parts)
    priority = pc.index_in(table["source"], value_set=pa.array(SOURCE_ORDER))
    keys = table.append_column("_priority", priority).append_column("_seq", pa.array(np.arange(len(table))))
    order = pc.sort_indices(
        keys, sort_keys=[("ts", "ascending"), ("_priority", "ascending"), ("_seq", "ascending")]
    )
    return table.take(order).to_pandas()


# ---------------------------------------------------------------- key moments and durations


def _field(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column of the frame, or an all-missing one when the frame lacks it."""
    return frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype="object")


def _first(stamps: pd.Series) -> datetime | None:
    """The earliest timestamp as an aware datetime (None when there is none)."""
    first = stamps.min()
    return None if pd.isna(first) else first.floor("us").to_pydatetime().astimezone(UTC)


def _first_alert(
    incident: Incident,
    alerts: pd.DataFrame,
    onset: Onset,
    impact_start: datetime | None,
    end: datetime | None,
) -> datetime | None:
    """The incident's first alert: see `key_moments`."""
    if alerts.empty:
        return None
    stamps = [t for t in (impact_start, onset.ts) if t is not None]
    start = min(stamps) if stamps else _earliest_milestone(incident)
    lead = ONSET_ALERT_LEAD if onset.ts is not None else ALERT_LEAD
    fired = alerts["ts"]
    near = fired.notna()
    if start is not None:
        near &= fired >= start - lead
    if end is not None:
        near &= fired <= end
    if not near.any():
        return None
    relevant = near.copy()
    if start is not None:
        ends = _field(alerts, "ends_at")
        relevant &= ~(ends.notna() & (ends < start))  # over before the impact began
        keys = pd.MultiIndex.from_arrays([_field(alerts, "name"), _field(alerts, "service")])
        earlier = fired < start - lead
        relevant &= ~keys.isin(keys[earlier.to_numpy()])  # the same alert was firing long before
    services = {*incident.services, *([onset.service] if onset.service else [])}
    ours = relevant & _field(alerts, "service").isin(services)
    for tier in (ours, relevant, near):
        if tier.any():
            return _first(fired[tier])
    return None


def _earliest_milestone(incident: Incident) -> datetime | None:
    """The earliest of the incident's milestones (None when it has none)."""
    return min((t for t in incident.milestones().values() if t is not None), default=None)


def key_moments(incident: Incident, frames: Mapping[str, pd.DataFrame], onset: Onset) -> Moments:
    """Impact start, first anomaly, first alert, detection, acknowledgement, mitigation and resolution.

    - impact start: incident started_at, else the metric onset; first anomaly: the metric onset;
    - first alert: the earliest alert firing from a lead before the start (the earlier of impact start and
      onset) to the resolution, first among the relevant alerts of the incident's services and the
      onset service, then among all relevant alerts, then among any alert in that range; an alert is not
      relevant when it ended before the start or when the same alert (name, service) was already firing
      before that range (noise that flaps all day); the lead is ONSET_ALERT_LEAD when the metrics date the
      onset (an alert before any metric moved is unrelated), else ALERT_LEAD (recorded starts are often late);
    - detection: detected_at, else the first alert; acknowledgement: acknowledged_at;
    - mitigation: mitigated_at, else the first rollback change between impact start and resolution;
    - resolution: resolved_at.
    """
    impact_start = incident.started_at or onset.ts
    resolution = incident.resolved_at
    end = resolution or max((t for t in incident.milestones().values() if t is not None), default=None)
    alerts = frames.get("alerts", pd.DataFrame())
    first_alert = _first_alert(incident, alerts, onset, impact_start, end)
    mitigation = incident.mitigated_at
    deploys = frames.get("deploys", pd.DataFrame())
    if mitigation is None and impact_start is not None and not deploys.empty:
        rollback = _field(deploys, "kind").isin(ROLLBACK_KINDS) & (deploys["ts"] >= impact_start)
        if resolution is not None:
            rollback &= deploys["ts"] <= resolution
        mitigation = _first(deploys.loc[rollback, "ts"])
    return Moments(
        impact_start=impact_start,
        first_anomaly=onset.ts,
        first_alert=first_alert,
        detection=incident.detected_at or first_alert,
        acknowledgement=incident.acknowledged_at,
        mitigation=mitigation,
        resolution=resolution,
    )


def _seconds(end: datetime | None, start: datetime | None) -> float | None:
    """`end - start` in seconds (None when either is missing; negative values are kept)."""
    return None if end is None or start is None else (end - start).total_seconds()


def compute_durations(moments: Moments) -> Durations:
    """Durations in seconds between key moments, as defined in DURATION_DEFINITIONS."""
    return Durations(
        time_to_detect=_seconds(moments.detection, moments.impact_start),
        time_to_acknowledge=_seconds(moments.acknowledgement, moments.detection),
        time_to_mitigate=_seconds(moments.mitigation, moments.impact_start),
        time_to_resolve=_seconds(moments.resolution, moments.impact_start),
    )
