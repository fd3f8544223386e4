"""Metric onset detection: when each series first left its baseline (service ranking: tasks/services.py).

Per series (service, metric), all series at once on sorted numpy arrays (no loop per series or point):

    T0        = the earliest incident milestone (started, detected, acknowledged, ...)
    baseline  = the points in [T0 - GUARD - BASELINE_SPAN, T0 - GUARD): the recorded impact start is often
                late, so GUARD keeps the true onset out of the baseline, and BASELINE_SPAN keeps slow
                (daily) drift out of it; when it holds fewer than MIN_BASELINE points (or the incident has
                no milestone), the first third of the series instead
    centre    = median(baseline)
    scale     = max(1.4826 * MAD(baseline), REL_FLOOR * |centre|, NOISE_SHARE * std(baseline), ABS_FLOOR)
    z         = (value - centre) / scale
    onset     = the first point of the first run of at least `sustain` consecutive points deviating in the
                same direction (z >= threshold: errors up; z <= -threshold: throughput down), searched from
                the baseline end up to the resolution; a run already under way at the first searched
                point began inside the baseline window (slow drift, a long precursor): its onset cannot be
                dated, so it does not count
    score     = m / (m + SCORE_HALF), m = median |z| over that run: 0.33 at the default threshold (4),
                0.5 at twice it, 0.83 at 40

The floors keep flat series from exploding: a constant series needs a change of REL_FLOOR of its level
per unit of z, a near-zero one a change relative to its own baseline spread. A series exactly flat at 0
that turns non-zero for `sustain` points is a maximal deviation (score close to 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from postmortem.model import Incident, MetricCandidate, Onset

# ---------------------------------------------------------------- tuning
# Provisional until the evaluation harness calibrates them.
GUARD = timedelta(minutes=15)  # baseline ends this long before the earliest milestone
BASELINE_SPAN = timedelta(hours=2)  # ... and starts at most this long before its end
MIN_BASELINE = 10  # fewer baseline points than this: use the first third of the series
MIN_FALLBACK = 5  # a first third shorter than this gives no baseline at all (no onset)
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
REL_FLOOR = 0.02  # scale floor relative to |median|
NOISE_SHARE = 0.25  # scale floor relative to the baseline's standard deviation (sparse, spiky series)
ABS_FLOOR = 1e-12  # avoids 0/0 on series flat at zero
SCORE_HALF = 8.0  # median |z| that scores 0.5

ONSET_FLOOR = 0.45  # a series counts for the overall onset from this score (median |z| ~ 6.5) ...
ONSET_RELATIVE = 0.5  # ... and from this share of the best series' score

NAT = np.iinfo(np.int64).min  # pandas' NaT as int64


def _epoch_ns(values: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch (NaT as the int64 minimum)."""
    return pd.to_datetime(values, utc=True).dt.as_unit("ns").array.asi8


def _ns(value: datetime) -> int:
    """One aware datetime as int64 nanoseconds since the epoch."""
    return pd.Timestamp(value).as_unit("ns").value


def _datetime(ns: int) -> datetime:
    """int64 nanoseconds since the epoch as an aware UTC datetime (to the microsecond)."""
    return pd.Timestamp(int(ns), unit="ns", tz=UTC).floor("us").to_pydatetime()


@dataclass(frozen=True)
class _Points:
    """Metric points sorted by series then time, duplicates averaged, NaNs dropped."""

    code: np.ndarray  # series number per point (int64, non-decreasing)
    ts: np.ndarray  # int64 ns
    value: np.ndarray  # float64
    services: np.ndarray  # series number -> service
    metrics: np.ndarray  # series number -> metric


def _points(metrics: pd.DataFrame) -> _Points | None:
    """Sorted, deduplicated arrays of the usable metric points (None when there are none)."""
    if metrics.empty:
        return None
    service_code, services = metrics["service"].factorize()
    metric_code, metric_names = metrics["metric"].factorize()
    value = pd.to_numeric(metrics["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    ts = _epoch_ns(metrics["ts"])
    usable = np.isfinite(value) & (ts != NAT) & (service_code >= 0) & (metric_code >= 0)
    if not usable.any():
        return None
    pair = service_code[usable].astype(np.int64) * len(metric_names) + metric_code[usable]
    code, pairs = pd.factorize(pair)
    code, ts, value = code.astype(np.int64), ts[usable], value[usable]
    order = _series_order(code, ts)
    if order is not None:
        code, ts, value = code[order], ts[order], value[order]
    repeat = np.zeros(len(code), dtype=bool)
    repeat[1:] = (code[1:] == code[:-1]) & (ts[1:] == ts[:-1])
    if repeat.any():  # duplicate (ts, service, metric) rows: average them
        group = np.cumsum(~repeat) - 1
        value = np.bincount(group, weights=value) / np.bincount(group)
        code, ts = code[~repeat], ts[~repeat]
    return _Points(
        code=code,
        ts=ts,
        value=value,
        services=np.asarray(services, dtype=object)[pairs // len(metric_names)],
        metrics=np.asarray(metric_names, dtype=object)[pairs % len(metric_names)],
    )


def _series_order(code: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
    """Permutation sorting points by series then time (None when they already are)."""
    same = code[1:] == code[:-1]
    if (code[1:] >= code[:-1]).all() and (ts[1:] >= ts[:-1])[same].all():
        return None
    low = int(ts.min())
    span = int(ts.max()) - low + 1
    if span * (int(code.max()) + 1) < 2**62:  # one int64 key sorts faster than a lexsort
        return np.argsort(code * span + (ts - low), kind="stable")
    return np.lexsort((ts, code))


def _first_milestone(incident: Incident) -> datetime | None:
    """The earliest of the incident's milestones (None when it has none)."""
    stamps = [t for t in incident.milestones().values() if t is not None]
    return min(stamps) if stamps else None


def _group_median(values: np.ndarray, groups: np.ndarray, size: int) -> np.ndarray:
    """Median of `values` per group number in 0..size-1 (NaN for empty groups)."""
    out = np.full(size, np.nan)
    if len(values):
        med = pd.Series(values).groupby(groups).median()
        out[med.index.to_numpy()] = med.to_numpy()
    return out


def detect_onsets(
    metrics: pd.DataFrame, incident: Incident, *, sustain: int = 3, threshold: float = 4.0
) -> list[MetricCandidate]:
    """The first sustained deviation from baseline of every series that has one, ranked by score."""
    pts = _points(metrics)
    if pts is None:
        return []
    sustain = max(1, sustain)
    n_series = len(pts.services)
    code, ts, value = pts.code, pts.ts, pts.value
    counts = np.bincount(code, minlength=n_series)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(len(code)) - starts[code]

    first = _first_milestone(incident)
    if first is not None:
        base_end = _ns(first - GUARD)
        in_base = (ts < base_end) & (ts >= _ns(first - GUARD - BASELINE_SPAN))
        search_from = np.full(n_series, base_end, dtype=np.int64)
    else:
        in_base = np.zeros(len(code), dtype=bool)
        search_from = np.full(n_series, np.iinfo(np.int64).min, dtype=np.int64)
    third = counts // 3
    fallback = np.bincount(code, weights=in_base, minlength=n_series) < MIN_BASELINE
    if fallback.any():  # too little before the incident: the first third of the series
        fb = fallback[code]
        in_base = np.where(fb, position < third[code], in_base)
        search_from[fallback] = ts[np.minimum(starts + third, starts + counts - 1)][fallback]
    usable_series = ~fallback | (third >= MIN_FALLBACK)

    base_code, base_value = code[in_base], value[in_base]
    centre = _group_median(base_value, base_code, n_series)
    mad = _group_median(np.abs(base_value - centre[base_code]), base_code, n_series)
    std = pd.Series(base_value).groupby(base_code).std(ddof=0).reindex(range(n_series)).to_numpy()
    scale = np.fmax.reduce(
        [MAD_TO_SIGMA * mad, REL_FLOOR * np.abs(centre), NOISE_SHARE * std, np.full(n_series, ABS_FLOOR)]
    )

    search_to = _ns(incident.resolved_at) if incident.resolved_at is not None else np.iinfo(np.int64).max
    searchable = (
        ~in_base
        & (ts >= search_from[code])
        & (ts <= search_to)
        & usable_series[code]
        & np.isfinite(centre[code])
    )
    z = (value - centre[code]) / scale[code]
    direction = np.where(searchable, np.sign(z) * (np.abs(z) >= threshold), 0).astype(np.int8)
    run_start = direction != 0
    run_start[1:] &= (direction[1:] != direction[:-1]) | (code[1:] != code[:-1])
    if not run_start.any():
        return []
    run_id = np.cumsum(run_start) - 1
    deviating = direction != 0
    lengths = np.bincount(run_id[deviating], minlength=int(run_id[-1]) + 1)
    start_idx = np.flatnonzero(run_start)
    # a run already under way at the first searched point began in the baseline: its onset is unknown
    searched_idx = np.flatnonzero(searchable)
    searched_series, first_of_series = np.unique(code[searched_idx], return_index=True)
    first_searched = np.full(n_series, -1)
    first_searched[searched_series] = searched_idx[first_of_series]
    dated = start_idx != first_searched[code[start_idx]]
    sustained = start_idx[(lengths >= sustain) & dated]
    if not len(sustained):
        return []
    series, first_pos = np.unique(code[sustained], return_index=True)
    onset_idx = sustained[first_pos]  # the earliest sustained run of each series
    chosen = run_id[onset_idx]
    members = deviating & np.isin(run_id, chosen)
    size = pd.Series(np.abs(z[members])).groupby(run_id[members]).median().reindex(chosen).to_numpy()
    score = size / (size + SCORE_HALF)

    result = pd.DataFrame(
        {
            "service": pts.services[series],
            "metric": pts.metrics[series],
            "score": score,
            "onset": ts[onset_idx],
        }
    ).sort_values(["score", "onset", "service", "metric"], ascending=[False, True, True, True], kind="stable")
    return [
        MetricCandidate(service=str(s), metric=str(m), score=float(sc), onset=_datetime(o))
        for s, m, sc, o in result.itertuples(index=False, name=None)
    ]


def significant(candidates: Sequence[MetricCandidate]) -> list[MetricCandidate]:
    """Series whose deviation is large enough to date the incident (absolute and relative floors)."""
    dated = [c for c in candidates if c.onset is not None]
    if not dated:
        return []
    floor = max(ONSET_FLOOR, ONSET_RELATIVE * max(c.score for c in dated))
    return [c for c in dated if c.score >= floor]


def overall_onset(candidates: Sequence[MetricCandidate], service: str | None = None) -> Onset:
    """The earliest onset among significantly deviating series (ties: the larger deviation).

    With `service` (the root from the service ranking), the earliest among that service's significant
    series, else among all its dated series: a blip elsewhere before the cascade does not date the incident.
    Falls back to all services when that one has no dated series.
    """
    strong = significant(candidates)
    if service is not None:
        own = [c for c in strong if c.service == service] or [
            c for c in candidates if c.service == service and c.onset is not None
        ]
        strong = own or strong
    if not strong:
        return Onset()
    best = min(strong, key=lambda c: (c.onset, -c.score, c.service, c.metric))
    return Onset(ts=best.onset, service=best.service, metric=best.metric)
