"""Formatting of times, durations, scores and free values for the report view model (pure, deterministic)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

NONE = "—"  # printed for a missing value
TEXT_LIMIT = 300  # characters kept of one free-text value in a table cell

CONFIDENCE_ORDER = ("high", "medium", "low")
_ACRONYMS = frozenset({"slo", "sla", "sli", "id", "url", "api", "p50", "p90", "p95", "p99"})
_UNIT_SUFFIXES = {
    "_pct": " (%)",
    "_percent": " (%)",
    "_ms": " (ms)",
    "_seconds": " (s)",
    "_minutes": " (min)",
}


def fmt_time(value: datetime | None) -> str:
    """`2026-03-02 10:04:12 UTC`, or the missing-value mark."""
    if value is None:
        return NONE
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} in the analysis: timestamps must be UTC-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_clock(value: datetime | None) -> str:
    """`10:04:12` (UTC wall clock), or the missing-value mark."""
    return NONE if value is None else fmt_time(value)[11:19]


def fmt_date(value: date | datetime | None) -> str:
    """`2026-03-02` (the UTC date of a datetime), or the missing-value mark."""
    if value is None:
        return NONE
    if isinstance(value, datetime):
        return fmt_time(value)[:10]
    return value.isoformat()


def fmt_duration(seconds: float | None) -> str:
    """`14 min 30 s`, `2 h 5 min`, `3 d 4 h` (rounded to the second; zero parts dropped), or the mark."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return NONE
    sign, total = ("−" if seconds < 0 else ""), round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:3] if total else ["0 s"]
    return sign + " ".join(shown)


def duration(seconds: float | None) -> dict[str, Any]:
    """A duration as {human, seconds, text}: `14 min 30 s`, `870`, `14 min 30 s (870 s)`."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return {"human": NONE, "seconds": NONE, "text": NONE, "known": False}
    human, secs = fmt_duration(seconds), f"{round(seconds):,}"
    return {"human": human, "seconds": secs, "text": f"{human} ({secs} s)", "known": True}


def between(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """The duration from start to end (unknown when either is missing)."""
    return duration(None if start is None or end is None else (end - start).total_seconds())


def fmt_score(value: float | None) -> str:
    """A score with two decimals."""
    return NONE if value is None else f"{value:.2f}"


def fmt_number(value: float | int) -> str:
    """An integer with thousands separators, a float with at most two decimals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if math.isnan(value):
        return NONE
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def fmt_value(value: Any) -> str:
    """Any JSON-like value as one line: numbers formatted, lists joined, objects as compact JSON."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool | int | float):
        return fmt_number(value)
    if isinstance(value, datetime):
        return fmt_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) or NONE
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def truncate(text: str, limit: int = TEXT_LIMIT) -> str:
    """The text cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(key: str) -> str:
    """`error_budget_burned_pct` -> `Error budget burned (%)`."""
    suffix = next((s for s in _UNIT_SUFFIXES if key.endswith(s)), "")
    words = key.removesuffix(suffix).replace("_", " ").replace("-", " ").split()
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + _UNIT_SUFFIXES.get(suffix, "")


def badge(confidence: str | None) -> dict[str, str]:
    """A confidence badge: its level (css class suffix) and label."""
    level = confidence if confidence in CONFIDENCE_ORDER else "unknown"
    return {"level": level, "label": f"{level} confidence"}


def severity_level(severity: str) -> str:
    """CSS level of an incident severity: SEV1/SEV2 critical, SEV3 major, others minor."""
    return {"SEV1": "critical", "SEV2": "critical", "SEV3": "major"}.get(severity, "minor")


def is_link(ref: str | None) -> bool:
    """Whether a reference is an http(s) URL that may be printed as a link."""
    return bool(ref) and ref.lower().startswith(("https://", "http://")) and not any(c.isspace() for c in ref)
