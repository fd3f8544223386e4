"""Log templates and burst mining: which message shapes appeared or surged once the incident began.

Templates in three vectorised stages, so that 1M lines take seconds:
1. deduplicate the raw messages (`pd.factorize`, Arrow-backed: no Python string per line);
2. mask the variable parts (ids, addresses, numbers, durations...) of each DISTINCT message with the
   RE2 rules below (pyarrow compute, in parallel slices), and deduplicate the masked messages again;
3. cluster the distinct masked messages with Drain (He et al., "Drain: An Online Log Parsing Approach
   with Fixed Depth Tree", ICWS 2017; the `drain3` implementation), one tree per service and
   severity class, so that residual variable words (table names, users, handlers) collapse into
   `<*>` while an error never merges with an info line of the same shape.
Every line then gets its template by array lookups, and the windows are counted with groupby.

Windows: the baseline is every line before (onset - GUARD), the incident window runs from there to the
resolution; the onset is the overall metric onset, else the incident's first milestone. Scoring of each
(service, template) in the incident window against the baseline window:

    rate ratio = log2(((count + 1) / incident minutes) / ((baseline count + 1) / baseline minutes))
    burst      = max(ratio, 0) / (max(ratio, 0) + BURST_HALF)
    new        = 1 when the template never appears in the baseline window, else 0
    score      = (BURST_WEIGHT * burst + NEW_WEIGHT * new) * (0.5 + 0.5 * severity of its worst level)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from drain3.drain import Drain

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
    (r"""(^|[^\w"'])(?:"[^"]*"|'[^']*')""", r"\1<STR>"),
    # URL query values: keep the parameter names, mask the values
    (r"([?&][\w.\-\[\]]+=)[^&\s#\"']*", r"\1<*>"),
    (r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}", "<EMAIL>"),
    (rf"\b{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b", "<UUID>"),
    # date-times, then bare clock times (one pass: alternatives of one rule share its replacement)
    (
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
        "<TS>",
    ),
    # IPv4 (optionally :port), IPv6 in full and compressed (a::b), optional [..]:port; then leading-:: forms
    (
        r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"
        rf"|\[?\b(?:{_H4}:){{7}}{_H4}\b{_PORT}|\[?\b(?:{_H4}:){{1,6}}(?::{_H4}){{1,6}}\b{_PORT}",
        "<IP>",
    ),
    (rf"(^|[^\w:])\[?::{_H4}(?::{_H4}){{0,6}}\b{_PORT}", r"\1<IP>"),
    (rf"\b0[xX]{_HEX}+\b", "<HEX>"),
    (rf"{_LEAD}{_HEX}{{12,}}\b", r"\1<HEX>"),
    (rf"{_LEAD}\d+(?:\.\d+)?\s?(?i:{_TIME_UNITS})\b", r"\1<DURATION>"),
    (rf"{_LEAD}\d+(?:\.\d+)?\s?(?i:{_SIZE_UNITS})\b", r"\1<SIZE>"),
    (rf"{_LEAD}-?\d+(?:\.\d+)?\b", r"\1<NUM>"),  # 50% becomes <NUM>%
    (rf"{_LEAD}{_HEX}{{8,}}\b", r"\1<HEX>"),
    # any remaining token with a digit is an identifier (pod-7d9f8b-x2k4z, user_12345, v2.3.1)
    (r"[\w.\-]*\d[\w.\-]*", "<ID>"),
    # runs of whitespace and tabs/newlines become one space (single spaces are left alone: faster)
    (r"\s{2,}|[\t\n\r\f\v]", " "),
)
PARALLEL_FROM = 100_000  # distinct messages from which the masking runs in parallel slices
DEDUPE_FROM = 1_000  # below this many texts, deduplicating between rules is not worth it ...
DEDUPE_SAMPLE, DEDUPE_SHARE = 2_000, 0.5  # ... else when an even sample has under half distinct texts

# Drain (provisional until the evaluation harness calibrates them): the similarity threshold is the
# share of equal tokens for a masked message to join a cluster; depth 4 is drain3's default tree.
DRAIN_SIM = 0.5
DRAIN_DEPTH = 4
DRAIN_MAX_CHILDREN = 100

# Burst scoring (provisional until the evaluation harness calibrates them).
# the onset is dated by metric samples (a scrape interval late at worst) or is the recorded start (often
# late): the incident window opens this long before it, and the baseline window ends there
GUARD = timedelta(minutes=5)
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


def _workers() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _distinct(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Deduplicate: the index of each text in the distinct texts, and the distinct texts."""
    enc = pc.dictionary_encode(texts)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _collapsed(texts: pa.Array) -> bool:
    """Whether an evenly spaced sample shows that deduplicating now would shrink the texts a lot."""
    if len(texts) < DEDUPE_FROM:
        return False
    sample = texts.take(pa.array(np.linspace(0, len(texts) - 1, DEDUPE_SAMPLE, dtype=np.int64)))
    return len(pc.unique(sample)) < DEDUPE_SHARE * DEDUPE_SAMPLE


def _mask_slice(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Apply the masking rules in order; deduplicate as soon as the texts collapse (usually at <NUM>).

    Returns the index of each input text in the distinct masked texts, and those texts. Rules are
    functions of the text, so applying the remaining rules to the distinct texts only is exact.
    """
    index = np.arange(len(texts), dtype=np.int64)
    for pattern, replacement in MASKS:
        texts = pc.replace_substring_regex(texts, pattern=pattern, replacement=replacement)
        if _collapsed(texts):
            step, texts = _distinct(texts)
            index = step[index]
    step, texts = _distinct(pc.utf8_trim_whitespace(texts))
    return step[index], texts


def _mask(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Masked distinct messages (index per input, distinct masked texts); large inputs in parallel slices.

    pyarrow compute releases the GIL, so the slices run on all the CPUs this process may use.
    """
    workers = _workers()
    if len(texts) < PARALLEL_FROM or workers < 2:
        return _mask_slice(texts)
    step = -(-len(texts) // workers)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(_mask_slice, [texts.slice(i, step) for i in range(0, len(texts), step)]))
    offsets = np.cumsum([0] + [len(d) for _, d in parts[:-1]])
    merged, distinct = _distinct(pa.concat_arrays([d.cast(pa.large_string()) for _, d in parts]))
    return np.concatenate([merged[i + off] for (i, _), off in zip(parts, offsets, strict=True)]), distinct


def _arrow_strings(uniques: pd.Index) -> pa.Array:
    """Distinct values as one Arrow string array (zero-copy when they already are Arrow strings)."""
    if not (isinstance(uniques.dtype, pd.StringDtype) and uniques.dtype.storage == "pyarrow"):
        uniques = uniques.astype("string[pyarrow]")
    arr = pa.array(uniques.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _drain(texts: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Drain template of each distinct (group, masked message), one Drain tree per group.

    Drain is online: the messages go in a fixed order (most frequent first, then by text) so that the
    templates do not depend on the order of the lines.
    """
    trees: dict[int, Drain] = {}
    clusters: list = [None] * len(texts)
    for i in np.lexsort((texts, -weights)):
        text = texts[i]
        if not text:
            continue
        tree = trees.get(groups[i])
        if tree is None:
            tree = trees[groups[i]] = Drain(
                depth=DRAIN_DEPTH, sim_th=DRAIN_SIM, max_children=DRAIN_MAX_CHILDREN
            )
        clusters[i] = tree.add_log_message(text)[0]
    # a cluster's template may generalise after a message joined it: read them at the end
    return np.array([c.get_template() if c is not None else "" for c in clusters], dtype=object)


def _line_templates(messages: pd.Series, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line, a template code (-1 for a null message), and the distinct templates.

    `groups` (non-negative int per line) separates the Drain trees: lines of different groups are
    never clustered together (the same template text in two groups gets the same code).
    """
    raw_codes, uniques = pd.factorize(messages)
    if len(uniques) == 0:
        return raw_codes, np.array([], dtype=object)
    masked_of_raw, masked = _mask(_arrow_strings(uniques))
    n_masked = len(masked)
    valid = raw_codes >= 0
    pair_key = groups.astype(np.int64) * n_masked + masked_of_raw[np.where(valid, raw_codes, 0)]
    pair_codes, pair_keys = pd.factorize(pair_key[valid])
    weights = np.bincount(pair_codes, minlength=len(pair_keys))
    texts = masked.take(pa.array(pair_keys % n_masked)).to_numpy(zero_copy_only=False)
    drained = _drain(texts.astype(object), pair_keys // n_masked, weights)
    template_of_pair, templates = pd.factorize(drained)
    codes = np.full(len(raw_codes), -1, dtype=np.int64)
    codes[valid] = template_of_pair[pair_codes]
    return codes, np.asarray(templates, dtype=object)


def mask_messages(messages: pd.Series) -> pd.Series:
    """Mask the variable parts of log messages (ids, addresses, numbers, quoted values) with typed tokens."""
    codes, uniques = pd.factorize(messages)
    if len(uniques):
        index, masked = _mask(_arrow_strings(uniques))
        codes = np.where(codes >= 0, index[np.maximum(codes, 0)], -1)
    else:
        masked = pa.array([], type=pa.large_string())
    table = pa.concat_arrays([masked.cast(pa.large_string()), pa.nulls(1, pa.large_string())])
    out = table.take(pa.array(np.where(codes >= 0, codes, len(masked)))).to_pandas()
    out.index, out.name = messages.index, messages.name
    return out


def template_of(messages: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Drain template of each log message after masking (null for a null message).

    `groups` (for example the service) keeps lines of different groups out of each other's clusters.
    """
    group_codes = np.zeros(len(messages), dtype=np.int64) if groups is None else pd.factorize(groups)[0] + 1
    codes, templates = _line_templates(messages, group_codes)
    table = pa.array(np.append(templates, None), type=pa.large_string())
    result = table.take(pa.array(np.where(codes >= 0, codes, len(templates)))).to_pandas()
    result.index, result.name = messages.index, messages.name
    return result


def _reference_time(incident: Incident, onset: Onset) -> datetime | None:
    """Onset if known, else the first incident milestone."""
    if onset.ts is not None:
        return onset.ts
    return next((t for t in incident.milestones().values() if t is not None), None)


def _ns(value: datetime) -> int:
    """An aware datetime as int64 nanoseconds since the epoch."""
    return pd.Timestamp(value).as_unit("ns").value


def _column_codes(logs: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Index]:
    """Factorised column (all -1 when the frame lacks it)."""
    if column not in logs:
        return np.full(len(logs), -1, dtype=np.int64), pd.Index([])
    return pd.factorize(logs[column])


def mine_log_patterns(
    logs: pd.DataFrame, incident: Incident, onset: Onset, *, limit: int = 50
) -> list[LogPattern]:
    """Rank (service, template) groups by their burst and novelty in the incident window (best first)."""
    ref = _reference_time(incident, onset)
    if logs.empty or ref is None or "message" not in logs:
        return []
    ts = logs["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    end_ns = (
        _ns(incident.resolved_at) if incident.resolved_at and incident.resolved_at > ref else ts.max() + 1
    )
    start_ns = base_end_ns = _ns(ref - GUARD)  # the incident window opens GUARD before the onset
    in_incident = (ts >= start_ns) & (ts <= end_ns)
    if not in_incident.any():
        return []
    in_base = ts < base_end_ns
    base_minutes = max((base_end_ns - ts.min()) / 60e9, 0.0)
    inc_minutes = max((min(end_ns, ts.max()) - start_ns) / 60e9, 1.0)

    s_codes, services = _column_codes(logs, "service")
    lv_codes, levels = _column_codes(logs, "level")
    level_severity = np.array(
        [LEVEL_SEVERITY.get(str(v).strip().lower(), UNKNOWN_SEVERITY) for v in levels] + [UNKNOWN_SEVERITY]
    )
    sev_class, sev_values = pd.factorize(level_severity)
    severity = level_severity[lv_codes]  # code -1 (null level) picks the trailing UNKNOWN_SEVERITY
    # one Drain tree per (service, severity class): an error line never joins an info line's cluster
    groups = (s_codes.astype(np.int64) + 1) * len(sev_values) + sev_class[lv_codes]
    t_codes, templates = _line_templates(logs["message"], groups)

    n_t = len(templates)
    key = (s_codes.astype(np.int64) + 1) * (n_t + 1) + t_codes  # null service -> block 0
    valid = t_codes >= 0
    inc = valid & in_incident
    frame = pd.DataFrame({"key": key[inc], "ts": ts[inc], "sev": severity[inc]})
    agg = frame.groupby("key", sort=False).agg(count=("ts", "size"), first=("ts", "min"), sev=("sev", "max"))
    baseline = pd.Series(key[valid & in_base]).value_counts().reindex(agg.index, fill_value=0).to_numpy()

    count = agg["count"].to_numpy()
    if base_minutes > 0 and bool(in_base.any()):
        ratio = np.log2(((count + 1) / inc_minutes) / ((baseline + 1) / base_minutes))
        burst = np.clip(ratio, 0, None)
        burst_s = burst / (burst + BURST_HALF)
        new = baseline == 0
    else:  # nothing to compare against: no burst, no novelty, severity alone orders the patterns
        burst_s = np.full(len(count), 0.5)
        new = np.zeros(len(count), dtype=bool)
    score = (BURST_WEIGHT * burst_s + NEW_WEIGHT * new) * (0.5 + 0.5 * agg["sev"].to_numpy())

    keys = agg.index.to_numpy()
    s_idx = keys // (n_t + 1) - 1
    service_names = np.append(np.asarray(services, dtype=object), None)  # -1 picks the trailing None
    ranked = pd.DataFrame(
        {
            "score": np.round(score, 4),
            "count": count,
            "template": templates[keys % (n_t + 1)],
            "service": service_names[s_idx],
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
