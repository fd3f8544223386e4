"""Pairs of records that describe the same moment from two sources, for the clock-skew checks.

Each pair is ordered cause -> effect (the table of pairs is in `tasks.quality.cross`), with the columns
`cause_ts`, `effect_ts`, `service`, `cause`, `effect`, `cause_line` and `effect_line`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from connectors.bundle_format import LINE
from postmortem.model import MetricCandidate

VERSION_KEYS = ("version", "service.version")
VERSION_SAMPLE = 1000  # log lines inspected for a version attribute
MIN_ID = 6  # shorter change ids are not searched for in chat (they collide with ordinary words)
_PAIR_COLUMNS = ["cause_ts", "effect_ts", "service", "cause", "effect", "cause_line", "effect_line"]


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


def first_firings(
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


def metric_alert_pairs(first: pd.DataFrame, metrics: Sequence[MetricCandidate]) -> pd.DataFrame:
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


def alert_chat_pairs(first: pd.DataFrame, chat: pd.DataFrame, within: timedelta) -> pd.DataFrame:
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


def deploy_chat_pairs(deploys: pd.DataFrame, chat: pd.DataFrame, within: timedelta) -> pd.DataFrame:
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


def deploy_log_pairs(deploys: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
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
