"""Log templates and burst mining: which message shapes appeared or surged once the incident began."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from postmortem.model import Incident, LogPattern, Onset

# Masking rules, applied in this order to each distinct message (RE2 syntax, run by pyarrow).
# Typed tokens keep templates readable; every rule maps all values of one kind to the same token,
# so messages that differ only in variable parts share a template. The order matters: a rule
# must run before any later rule that would match part of its text: timestamps and IPs before
# numbers; runs of 12+ hex digits are ids even when they hold no letter, shorter all-digit runs
# are numbers (1700000000 is <NUM>, 4935956134520585 is <HEX>). `_LEAD` makes a rule match whole
# tokens only: the value must not continue a word, a dotted name or a dashed name (checkout-7d9f).
_HEX = "[0-9a-fA-F]"
_H4 = f"{_HEX}{{1,4}}"
_LEAD = r"(^|[^\w.\-])"
_PORT = r"(?:\]:\d{1,5}|\])?"
_TIME_UNITS = "ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?"
_SIZE_UNITS = "b|kb|mb|gb|tb|kib|mib|gib|tib|bytes?"
MASKS: tuple[tuple[str, str], ...] = (
    # quoted strings (an opening quote must not follow a word character: "can't" is not a quote)
    (r'(^|[^\w"])"[^"]*"', r"\1<STR>"),
    (r"(^|[^\w'])'[^']*'", r"\1<STR>"),
    # URL query values: keep the parameter names, mask the values
    (r"([?&][\w.\-\[\]]+=)[^&\s#\"']*", r"\1<*>"),
    (r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}", "<EMAIL>"),
    (rf"\b{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b", "<UUID>"),
    (r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?", "<TS>"),
    (r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<TS>"),
    # IPv4 (optionally :port), then IPv6 in full, compressed (a::b) and leading-:: forms, optional [..]:port
    (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b", "<IP>"),
    (rf"\[?\b(?:{_H4}:){{7}}{_H4}\b{_PORT}", "<IP>"),
    (rf"\[?\b(?:{_H4}:){{1,6}}(?::{_H4}){{1,6}}\b{_PORT}", "<IP>"),
    (rf"(^|[^\w:])\[?::{_H4}(?::{_H4}){{0,6}}\b{_PORT}", r"\1<IP>"),
    (rf"\b0[xX]{_HEX}+\b", "<HEX>"),
    (rf"{_LEAD}{_HEX}{{12,}}\b", r"\1<HEX>"),
    (rf"{_LEAD}\d+(?:\.\d+)?\s?(?i:{_TIME_UNITS})\b", r"\1<DURATION>"),
    (rf"{_LEAD}\d+(?:\.\d+)?\s?(?i:{_SIZE_UNITS})\b", r"\1<SIZE>"),
    (rf"{_LEAD}-?\d+(?:\.\d+)?%", r"\1<NUM>%"),
    (rf"{_LEAD}-?\d+(?:\.\d+)?\b", r"\1<NUM>"),
    (rf"{_LEAD}{_HEX}{{8,}}\b", r"\1<HEX>"),
    # any remaining token with a digit is an identifier (pod-7d9f8b-x2k4z, user_12345, v2.3.1)
    (r"[\w.\-]*\d[\w.\-]*", "<ID>"),
    (r"\s+", " "),
)

# Burst scoring (provisional until the evaluation harness calibrates them).
GUARD = timedelta(minutes=5)  # logs this close before the reference time belong to neither window
BURST_HALF = 3.0  # log2 rate ratio that scores 0.5 on the burst scale (8x the baseline rate)
BURST_WEIGHT, NEW_WEIGHT = 0.65, 0.35  # burst and novelty shares of the score, before the level weight
# severity 0..1 by log level; the score is multiplied by 0.5 + 0.5 * severity (unknown levels: 0.5)
LEVEL_SEVERITY = {
    "trace": 0.0,
    "debug": 0.0,
    "info": 0.2,
    "notice": 0.3,
    "warn": 0.6,
    "warning": 0.6,
    "error": 1.0,
    "err": 1.0,
    "critical": 1.0,
    "crit": 1.0,
    "fatal": 1.0,
    "alert": 1.0,
    "emergency": 1.0,
    "panic": 1.0,
}
UNKNOWN_SEVERITY = 0.5


def _mask(unique: pa.Array) -> pa.Array:
    """Apply the masking rules to distinct messages."""
    for pattern, replacement in MASKS:
        unique = pc.replace_substring_regex(unique, pattern=pattern, replacement=replacement)
    return pc.utf8_trim_whitespace(unique)


def _template_codes(messages: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per-message template code (-1 for null) and the distinct templates, masking each message once."""
    codes, uniques = pd.factorize(messages)
    if len(uniques) == 0:
        return codes, np.array([], dtype=object)
    texts = pa.array(np.asarray(uniques, dtype=object).astype(str), type=pa.large_string())
    masked = _mask(texts).to_numpy(zero_copy_only=False)
    t_codes, templates = pd.factorize(masked)
    per_message = np.where(codes >= 0, t_codes[np.maximum(codes, 0)], -1)
    return per_message, np.asarray(templates, dtype=object)


def template_of(messages: pd.Series) -> pd.Series:
    """Mask the variable parts of log messages (ids, addresses, numbers, quoted values) into templates."""
    codes, templates = _template_codes(messages)
    table = pa.array(np.append(templates, None), type=pa.large_string())
    out = table.take(pa.array(np.where(codes >= 0, codes, len(templates))))
    result = out.to_pandas()
    result.index, result.name = messages.index, messages.name
    return result


def _reference_time(incident: Incident, onset: Onset) -> datetime | None:
    """Onset if known, else the first incident milestone."""
    if onset.ts is not None:
        return onset.ts
    return next((t for t in incident.milestones().values() if t is not None), None)


def _ns(value: datetime) -> int:
    return pd.Timestamp(value).as_unit("ns").value


def mine_log_patterns(
    logs: pd.DataFrame, incident: Incident, onset: Onset, *, limit: int = 50
) -> list[LogPattern]:
    """Rank (service, template) groups by their burst in the incident window against the baseline."""
    ref = _reference_time(incident, onset)
    if logs.empty or ref is None or "message" not in logs:
        return []
    ts = logs["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    start_ns = _ns(ref)
    end_ns = (
        _ns(incident.resolved_at) if incident.resolved_at and incident.resolved_at > ref else ts.max() + 1
    )
    base_end_ns = _ns(ref - GUARD)
    in_incident = (ts >= start_ns) & (ts <= end_ns)
    if not in_incident.any():
        return []
    in_base = ts < base_end_ns
    first_ts = ts.min()
    base_minutes = max((base_end_ns - first_ts) / 60e9, 0.0)
    inc_minutes = max((min(end_ns, ts.max()) - start_ns) / 60e9, 1.0)

    t_codes, templates = _template_codes(logs["message"])
    s_codes, services = pd.factorize(
        logs["service"] if "service" in logs else pd.Series(None, index=logs.index)
    )
    lv_codes, levels = pd.factorize(logs["level"] if "level" in logs else pd.Series(None, index=logs.index))
    lv_sev = np.array(
        [LEVEL_SEVERITY.get(str(v).strip().lower(), UNKNOWN_SEVERITY) for v in levels] + [UNKNOWN_SEVERITY]
    )
    severity = lv_sev[lv_codes]  # code -1 (null level) picks the trailing UNKNOWN_SEVERITY

    n_t = len(templates)
    key = (s_codes.astype(np.int64) + 1) * (n_t + 1) + t_codes  # null service -> 0 block
    valid = t_codes >= 0
    inc = valid & in_incident
    frame = pd.DataFrame({"key": key[inc], "ts": ts[inc], "sev": severity[inc]})
    agg = frame.groupby("key", sort=False).agg(count=("ts", "size"), first=("ts", "min"), sev=("sev", "max"))
    baseline = pd.Series(key[valid & in_base]).value_counts().reindex(agg.index, fill_value=0).to_numpy()

    count = agg["count"].to_numpy()
    has_baseline = base_minutes > 0 and bool(in_base.any())
    if has_baseline:
        ratio = np.log2(((count + 1) / inc_minutes) / ((baseline + 1) / base_minutes))
        burst = np.clip(ratio, 0, None)
        burst_s = burst / (burst + BURST_HALF)
        new = baseline == 0
    else:  # nothing to compare against: no burst, no novelty, severity alone orders the patterns
        burst_s = np.full(len(count), 0.5)
        new = np.zeros(len(count), dtype=bool)
    score = (BURST_WEIGHT * burst_s + NEW_WEIGHT * new) * (0.5 + 0.5 * agg["sev"].to_numpy())

    keys = agg.index.to_numpy()
    t_idx = keys % (n_t + 1)
    s_idx = keys // (n_t + 1) - 1
    ranked = pd.DataFrame(
        {
            "score": np.round(score, 4),
            "count": count,
            "template": templates[t_idx],
            "service": [services[i] if i >= 0 else None for i in s_idx],
            "baseline": baseline,
            "new": new,
            "first": agg["first"].to_numpy(),
        }
    )
    ranked["service_key"] = ranked["service"].fillna("")
    ranked = ranked.sort_values(
        ["score", "count", "template", "service_key"], ascending=[False, False, True, True], kind="stable"
    ).head(limit)
    return [
        LogPattern(
            template=row.template,
            service=row.service,
            count=int(row.count),
            first_seen=pd.Timestamp(row.first, tz="UTC").to_pydatetime(),
            score=float(row.score),
            baseline_count=int(row.baseline),
            new=bool(row.new),
        )
        for row in ranked.itertuples(index=False)
    ]
