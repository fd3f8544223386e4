"""Cross-source checks: clocks that disagree, services without change data, telemetry holes, early alerts.

Clock skew is judged on pairs of records that describe the same moment from two sources, each pair
ordered cause -> effect, so the effect must not come before its cause (beyond `tolerance`) nor after it
by more than the pair's `max_lag`:

| pair             | cause                               | effect                                        |
|------------------|-------------------------------------|-----------------------------------------------|
| metrics_alerts   | onset of a metric series            | first firing of an alert naming that metric   |
|                  | (from the analysis)                 | on the same service                           |
| alerts_chat      | first firing of an alert rule       | nearest chat message naming the rule and its  |
|                  |                                     | service                                       |
| deploys_chat     | a change record                     | nearest chat message naming the change id     |
| deploys_logs     | first deploy of a version           | first log line of that version on the service |
|                  |                                     | (`version`, `attrs.version` or                |
|                  |                                     | `attrs["service.version"]`)                   |

With at least `min_pairs` pairs, a pair of sources fails when `skew_share` of them are out of range:
one source is consistently shifted. The suspect is the source common to the failing pairs that no
passing pair clears. Fewer pairs give an informational note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from connectors.bundle_format import LINE
from postmortem.model import Incident, MetricCandidate, QualityResult
from tasks.quality.config import QualitySettings
from tasks.quality.policy import Policy
from tasks.quality.results import computed, note
from tasks.quality.series import series_gaps
from tasks.quality.suites import incident_period

CROSS = "cross_source"
PAIRS: dict[str, tuple[str, str]] = {
    "metrics_alerts": ("metrics", "alerts"),
    "alerts_chat": ("alerts", "chat"),
    "deploys_chat": ("deploys", "chat"),
    "deploys_logs": ("deploys", "logs"),
}
CROSS_CHECKS: dict[str, tuple[str, str]] = {
    **{
        f"clock_skew_{pair}": ("critical", f"{a} and {b} agree on the order and spacing of shared moments")
        for pair, (a, b) in PAIRS.items()
    },
    "alert_before_metric": ("warn", "no alert fires before the onset of the metric it alerts on"),
    "change_data_for_services": ("warn", "every impacted service has deploy or commit records"),
    "telemetry_during_incident": (
        "warn",
        "every impacted service has metrics or logs during the incident, without scrape gaps",
    ),
}
VERSION_KEYS = ("version", "service.version")
VERSION_SAMPLE = 1000  # log lines inspected for a version attribute
MIN_ID = 6  # shorter change ids are not searched for in chat (they collide with ordinary words)
GAP_COLUMNS = ("ts", "service", "metric", "value", LINE)
_PAIR_COLUMNS = ["cause_ts", "effect_ts", "service", "cause", "effect", "cause_line", "effect_line"]


def cross_source_checks(
    frames: Mapping[str, pd.DataFrame],
    incident: Incident,
    metrics: Sequence[MetricCandidate],
    settings: QualitySettings,
    policy: Policy,
) -> list[QualityResult]:
    """Every cross-source check on the cleaned frames and the analysis' metric onsets."""
    cfg = settings.cross_source
    period = incident_period(incident)
    empty = pd.DataFrame()
    alerts, chat = frames.get("alerts", empty), frames.get("chat", empty)
    deploys, logs = frames.get("deploys", empty), frames.get("logs", empty)
    first_alerts = _first_firings(alerts, period, cfg.match_within)
    pairs = {
        "metrics_alerts": _metric_alert_pairs(first_alerts, metrics),
        "alerts_chat": _alert_chat_pairs(first_alerts, chat, cfg.match_within),
        "deploys_chat": _deploy_chat_pairs(deploys, chat, cfg.match_within),
        "deploys_logs": _deploy_log_pairs(deploys, logs),
    }
    results = _clock_skew(pairs, settings, policy)
    results.append(_alert_before_metric(pairs["metrics_alerts"], settings, policy))
    results.append(_change_data(incident, frames, policy))
    results.append(_telemetry(incident, period, frames, settings, policy))
    return results


# ---------------------------------------------------------------- pairs


def _pairs(**columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame({c: columns.get(c) for c in _PAIR_COLUMNS})
    frame["lag_s"] = (frame["effect_ts"] - frame["cause_ts"]).dt.total_seconds()
    return frame


def _no_pairs() -> pd.DataFrame:
    return _pairs(
        cause_ts=pd.Series([], dtype="datetime64[ns, UTC]"),
        effect_ts=pd.Series([], dtype="datetime64[ns, UTC]"),
    )


def _text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The given columns of each row joined as lower-case text (dicts and lists as their repr)."""
    text = pd.Series("", index=frame.index, dtype="string")
    for column in columns:
        if column in frame.columns:
            text = text + " " + frame[column].astype("string").fillna("")
    return text.str.lower()


def _first_firings(
    alerts: pd.DataFrame, period: tuple[datetime, datetime] | None, within: timedelta
) -> pd.DataFrame:
    """The first firing of each alert rule (name, service) that starts near the incident."""
    if alerts.empty or period is None or "name" not in alerts.columns:
        return pd.DataFrame(columns=["ts", "name", "service", "text", LINE])
    near = alerts[(alerts["ts"] >= period[0] - within) & (alerts["ts"] <= period[1])]
    near = near[near["name"].notna() & near["service"].notna()]
    first = near.sort_values("ts", kind="stable").drop_duplicates(["name", "service"])
    first = first.assign(text=_text(first, ("name", "summary", "description", "labels", "annotations")))
    return first[["ts", "name", "service", "text", LINE]].reset_index(drop=True)


def _metric_alert_pairs(first: pd.DataFrame, metrics: Sequence[MetricCandidate]) -> pd.DataFrame:
    """Each first firing paired with the onset of a metric of its service that the alert names."""
    onsets = pd.DataFrame(
        [(m.service, m.metric, m.onset) for m in metrics if m.onset is not None],
        columns=["service", "metric", "onset"],
    )
    if first.empty or onsets.empty:
        return _no_pairs()
    joined = first.merge(onsets, on="service")
    named = np.array([m.lower() in t for m, t in zip(joined["metric"], joined["text"], strict=True)], bool)
    joined = joined[named].sort_values("onset", kind="stable").drop_duplicates(LINE)
    return _pairs(
        cause_ts=pd.to_datetime(joined["onset"], utc=True),
        effect_ts=joined["ts"],
        service=joined["service"],
        cause="onset of " + joined["metric"],
        effect="alert " + joined["name"],
        cause_line=None,
        effect_line=joined[LINE],
    )


def _nearest(joined: pd.DataFrame, within: timedelta) -> pd.DataFrame:
    """Of the candidate (cause, effect) rows, each cause's effect nearest in time (within `within`)."""
    if joined.empty:
        return joined
    distance = (joined["ts_effect"] - joined["ts"]).abs()
    joined = joined[distance <= within].assign(distance=distance)
    return joined.sort_values(["distance", "ts_effect"], kind="stable").drop_duplicates("cause_key")


def _nearest_chat_pairs(joined: pd.DataFrame, within: timedelta, prefix: str, column: str) -> pd.DataFrame:
    """Pairs of each cause with its nearest chat message; the cause is described as `prefix + column`."""
    joined = _nearest(joined, within)
    if joined.empty:
        return _no_pairs()
    return _pairs(
        cause_ts=joined["ts"],
        effect_ts=joined["ts_effect"],
        service=joined["service"],
        cause=prefix + joined[column],
        effect="chat message",
        cause_line=joined[LINE],
        effect_line=joined["line_effect"],
    )


def _alert_chat_pairs(first: pd.DataFrame, chat: pd.DataFrame, within: timedelta) -> pd.DataFrame:
    """First firings paired with the nearest chat message naming the alert and its service."""
    if first.empty or chat.empty or "text" not in chat.columns:
        return _no_pairs()
    names = sorted(set(first["name"].astype(str).str.lower()), key=len, reverse=True)
    text = _text(chat, ("text",))
    found = text.str.extractall(f"({'|'.join(re.escape(n) for n in names)})")[0].droplevel(1)
    if found.empty:
        return _no_pairs()
    rows = found.index
    mentions = pd.DataFrame(
        {
            "key": found.to_numpy(),
            "ts_effect": chat["ts"].loc[rows].reset_index(drop=True),
            "line_effect": chat[LINE].loc[rows].to_numpy(),
            "said": text.loc[rows].to_numpy(),
        }
    ).drop_duplicates(["key", "line_effect"])
    causes = first.assign(cause_key=first.index, key=first["name"].astype(str).str.lower())
    joined = causes.merge(mentions, on="key")
    named = [str(s).lower() in t for s, t in zip(joined["service"], joined["said"], strict=True)]
    return _nearest_chat_pairs(joined[named].drop(columns="key"), within, "alert ", "name")


def _deploy_chat_pairs(deploys: pd.DataFrame, chat: pd.DataFrame, within: timedelta) -> pd.DataFrame:
    """Change records paired with the nearest chat message that names their id."""
    if deploys.empty or chat.empty or "text" not in chat.columns:
        return _no_pairs()
    ids = deploys[deploys["id"].astype("string").str.len() >= MIN_ID]
    tokens = chat["text"].astype("string").str.findall(r"[\w.:-]+").explode().dropna()
    tokens = tokens[tokens.isin(set(ids["id"].astype(str)))]
    if tokens.empty:
        return _no_pairs()
    mentions = pd.DataFrame(
        {
            "id": tokens.to_numpy(),
            "ts_effect": chat.loc[tokens.index, "ts"].to_numpy(),
            "line_effect": chat.loc[tokens.index, LINE].to_numpy(),
        }
    )
    mentions["ts_effect"] = pd.to_datetime(mentions["ts_effect"], utc=True)
    causes = ids[["id", "ts", "service", LINE]].assign(
        cause_key=np.arange(len(ids)), id=ids["id"].astype(str)
    )
    return _nearest_chat_pairs(causes.merge(mentions, on="id"), within, "change ", "id")


def log_versions(logs: pd.DataFrame) -> pd.Series | None:
    """The version each log line reports (`version`, else `attrs.version` or `attrs["service.version"]`)."""
    if "version" in logs.columns:
        return logs["version"]
    if "attrs" not in logs.columns:
        return None
    sample = logs["attrs"].head(VERSION_SAMPLE)
    keys = [k for k in VERSION_KEYS if any(isinstance(a, dict) and k in a for a in sample)]
    if not keys:
        return None
    return logs["attrs"].map(
        lambda a: next((a[k] for k in keys if k in a), None) if isinstance(a, dict) else None
    )


def _deploy_log_pairs(deploys: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
    """The first deploy of each (service, version) paired with the first log line of that version.

    Only versions new to the logs count: the service logged another version before this one appeared.
    """
    if deploys.empty or logs.empty or "version" not in deploys.columns:
        return _no_pairs()
    versions = log_versions(logs)
    if versions is None:
        return _no_pairs()
    lines = pd.DataFrame(
        {"service": logs["service"], "version": versions, "ts": logs["ts"], LINE: logs[LINE]}
    )
    lines = lines.dropna(subset=["service", "version"])
    lines["version"] = lines["version"].astype(str)
    first = lines.sort_values("ts", kind="stable").drop_duplicates(["service", "version"])
    earliest = lines.groupby("service")["ts"].min().rename("service_start")
    first = first.join(earliest, on="service")
    first = first[first["ts"] > first["service_start"]]
    changes = deploys[deploys["version"].notna() & deploys["service"].notna()]
    changes = changes.assign(version=changes["version"].astype(str)).sort_values("ts", kind="stable")
    changes = changes.drop_duplicates(["service", "version"])
    joined = changes.merge(first, on=["service", "version"], suffixes=("", "_log"))
    if joined.empty:
        return _no_pairs()
    return _pairs(
        cause_ts=joined["ts"],
        effect_ts=joined["ts_log"],
        service=joined["service"],
        cause="deploy of " + joined["version"],
        effect="first log line of " + joined["version"],
        cause_line=joined[LINE],
        effect_line=joined[f"{LINE}_log"],
    )


# ---------------------------------------------------------------- checks


def _pair_examples(pairs: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    worst = pairs.reindex(pairs["lag_s"].abs().sort_values(ascending=False).index).head(limit)
    return [
        {
            "service": r.service,
            "cause": r.cause,
            "cause_ts": r.cause_ts,
            "cause_line": None if pd.isna(r.cause_line) else int(r.cause_line),
            "effect": r.effect,
            "effect_ts": r.effect_ts,
            "effect_line": None if pd.isna(r.effect_line) else int(r.effect_line),
            "lag_s": round(float(r.lag_s), 1),
        }
        for r in worst.itertuples()
    ]


def _clock_skew(
    pairs: Mapping[str, pd.DataFrame], settings: QualitySettings, policy: Policy
) -> list[QualityResult]:
    """One result per pair of sources; failing pairs name the source that looks shifted."""
    cfg = settings.cross_source
    tolerance = cfg.tolerance.total_seconds()
    judged: dict[str, tuple[bool, pd.DataFrame, pd.Series]] = {}
    for pair, found in pairs.items():
        max_lag = cfg.max_lag.get(pair, cfg.match_within).total_seconds()
        out = (found["lag_s"] < -tolerance) | (found["lag_s"] > max_lag)
        if len(found) >= cfg.min_pairs:
            judged[pair] = (bool(out.mean() >= cfg.skew_share), found, out)
    cleared = {src for pair, (failed, _, _) in judged.items() if not failed for src in PAIRS[pair]}
    failing = [set(PAIRS[pair]) for pair, (failed, _, _) in judged.items() if failed]
    common = set.intersection(*failing) if len(failing) > 1 else set()
    results = []
    for pair, found in pairs.items():
        check = f"clock_skew_{pair}"
        rule = CROSS_CHECKS[check][1]
        if pair not in judged:
            results.append(
                note(
                    CROSS,
                    check,
                    f"{len(found)} matched pairs of {' and '.join(PAIRS[pair])}; "
                    f"at least {cfg.min_pairs} are needed to judge their clocks",
                )
            )
            continue
        failed, found, out = judged[pair]
        median = float(found["lag_s"].median())
        summary, suspects = None, []
        if failed:
            suspects = _suspects(PAIRS[pair], cleared, common)
            summary = (
                f"{' or '.join(suspects)} clock looks shifted: median lag {median:+.0f} s from "
                f"{PAIRS[pair][0]} to {PAIRS[pair][1]}, {int(out.sum())} of {len(found)} pairs out of range"
            )
        results.append(
            computed(
                CROSS,
                check,
                policy.severity(CROSS, check),
                rule,
                int(out.sum()),
                _pair_examples(found[out], settings.examples),
                len(found),
                success=not failed,
                summary=summary,
                sources=list(PAIRS[pair]),
                median_lag_s=round(median, 1),
                suspects=suspects,
            )
        )
    return results


def _suspects(pair: tuple[str, str], cleared: set[str], common: set[str]) -> list[str]:
    """The sources of a failing pair that may be shifted: the one common to every failing pair if any,
    else those no passing pair clears, else both."""
    return [s for s in pair if s in common] or [s for s in pair if s not in cleared] or list(pair)


def _alert_before_metric(pairs: pd.DataFrame, settings: QualitySettings, policy: Policy) -> QualityResult:
    check = "alert_before_metric"
    if pairs.empty:
        return note(CROSS, check, "no alert names a metric with an onset on its service")
    early = pairs["lag_s"] < -settings.cross_source.tolerance.total_seconds()
    return computed(
        CROSS,
        check,
        policy.severity(CROSS, check),
        CROSS_CHECKS[check][1],
        int(early.sum()),
        _pair_examples(pairs[early], settings.examples),
        len(pairs),
    )


def _change_data(incident: Incident, frames: Mapping[str, pd.DataFrame], policy: Policy) -> QualityResult:
    check = "change_data_for_services"
    if not incident.services:
        return note(CROSS, check, "the incident names no service")
    covered: set[str] = set()
    for name in ("deploys", "commits"):
        frame = frames.get(name)
        if frame is not None and not frame.empty and "service" in frame.columns:
            covered |= set(frame["service"].dropna().astype(str))
    missing = [s for s in incident.services if s not in covered]
    return computed(
        CROSS,
        check,
        policy.severity(CROSS, check),
        CROSS_CHECKS[check][1],
        len(missing),
        [{"service": s, "detail": "no deploy or commit record names this service"} for s in missing],
        len(incident.services),
    )


def _telemetry(
    incident: Incident,
    period: tuple[datetime, datetime] | None,
    frames: Mapping[str, pd.DataFrame],
    settings: QualitySettings,
    policy: Policy,
) -> QualityResult:
    check = "telemetry_during_incident"
    if not incident.services or period is None:
        return note(CROSS, check, "the incident names no service or has no milestones")
    start, end = (pd.Timestamp(t) for t in period)
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    metrics, logs = frames.get("metrics", pd.DataFrame()), frames.get("logs", pd.DataFrame())
    if not metrics.empty:
        mine = metrics.loc[metrics["service"].isin(incident.services).to_numpy(), list(GAP_COLUMNS)]
        during = (mine["ts"] >= start) & (mine["ts"] <= end) & mine["value"].notna()
        seen |= set(mine.loc[during, "service"].unique().astype(str))
        gaps = series_gaps(mine, settings.metrics.scrape_interval, settings.metrics.max_gap_intervals)
        gaps = gaps[(gaps["end"] > start) & (gaps["start"] < end)]
        problems += [
            {
                "service": g.service,
                "source": "metrics",
                "metric": g.metric,
                "start": g.start,
                "end": g.end,
                "line": int(g.line),
                "detail": f"no sample for {g.intervals:.1f} scrape intervals",
            }
            for g in gaps.itertuples()
        ]
    if not logs.empty and "service" in logs.columns:
        during = ((logs["ts"] >= start) & (logs["ts"] <= end)).to_numpy()
        seen |= set(logs["service"][during].dropna().unique().astype(str))
    problems += [
        {
            "service": s,
            "source": "metrics+logs",
            "detail": "no metric sample and no log line during the incident",
        }
        for s in incident.services
        if s not in seen
    ]
    return computed(
        CROSS,
        check,
        policy.severity(CROSS, check),
        CROSS_CHECKS[check][1],
        len(problems),
        problems[: settings.examples],
        len(incident.services),
    )
