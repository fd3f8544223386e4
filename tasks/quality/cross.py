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

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from connectors.bundle_format import LINE
from postmortem.model import Incident, MetricCandidate, QualityResult
from tasks.quality import moments
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
GAP_COLUMNS = ("ts", "service", "metric", "value", LINE)


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
    first_alerts = moments.first_firings(alerts, period, cfg.match_within)
    pairs = {
        "metrics_alerts": moments.metric_alert_pairs(first_alerts, metrics),
        "alerts_chat": moments.alert_chat_pairs(first_alerts, chat, cfg.match_within),
        "deploys_chat": moments.deploy_chat_pairs(deploys, chat, cfg.match_within),
        "deploys_logs": moments.deploy_log_pairs(deploys, logs),
    }
    results = _clock_skew(pairs, settings, policy)
    results.append(_alert_before_metric(pairs["metrics_alerts"], settings, policy))
    results.append(_change_data(incident, frames, policy))
    results.append(_telemetry(incident, period, frames, settings, policy))
    return results


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
