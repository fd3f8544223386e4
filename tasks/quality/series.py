"""Metric series shape, vectorised: the gap before each sample and how much of a period a series misses.

A series is one (`service`, `metric`); its samples are the rows with a numeric value (NaN is a missed
scrape). Its interval is the configured scrape interval, else the median spacing of its samples.
Samples are grouped by series in time order without sorting when the frame already is (the usual
layout of a metrics export), else with a time sort and a radix sort on the series code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from connectors.bundle_format import LINE

NAT = np.iinfo(np.int64).min  # pandas' NaT as int64
RADIX_LIMIT = 1 << 16  # fewer series than this sort with numpy's radix sort (uint16 keys)


def series_keys(frame: pd.DataFrame) -> tuple[pd.Categorical, pd.Categorical]:
    """`service` and `metric` as categoricals (one hashing pass each, reused by GX and the shape)."""
    return pd.Categorical(frame["service"]), pd.Categorical(frame["metric"])


@dataclass(frozen=True)
class _Samples:
    """The samples of every series, grouped by series in time order, with each one's spacing."""

    rows: np.ndarray  # row positions in the frame
    stamps: np.ndarray  # int64 ns
    first: np.ndarray  # first sample of its series
    last: np.ndarray  # last sample of its series
    step: np.ndarray  # ns since the previous sample of the series (NaN on the first)
    spacing: np.ndarray  # the series' interval in ns (NaN when unknown)


def _order(keys: np.ndarray, stamps: np.ndarray, series: int) -> np.ndarray | None:
    """Positions grouping the samples by series, in time order within each (None: already so)."""
    change = keys[1:] != keys[:-1]
    blocks = int(np.count_nonzero(change)) + 1
    if blocks == np.count_nonzero(np.bincount(keys, minlength=series)) and not np.any(
        ~change & (stamps[1:] < stamps[:-1])
    ):
        return None
    by_time = None if np.all(stamps[1:] >= stamps[:-1]) else np.argsort(stamps, kind="stable")
    timed = keys if by_time is None else keys[by_time]
    narrow = timed.astype(np.uint16) if series < RADIX_LIMIT else timed
    order = np.argsort(narrow, kind="stable")
    return order if by_time is None else by_time[order]


def _samples(
    frame: pd.DataFrame, keys: tuple[pd.Categorical, pd.Categorical], interval: timedelta | None
) -> _Samples | None:
    service, metric = (k.codes.astype(np.int64) for k in keys)
    width = max(len(keys[1].categories), 1)
    codes = service * width + metric
    stamps = frame["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    ok = (service >= 0) & (metric >= 0) & (stamps != NAT) & frame["value"].notna().to_numpy()
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return None
    codes, stamps = codes[rows], stamps[rows]
    order = _order(codes, stamps, max(len(keys[0].categories), 1) * width)
    if order is not None:
        rows, codes, stamps = rows[order], codes[order], stamps[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    last = np.r_[codes[1:] != codes[:-1], True]
    step = np.diff(stamps, prepend=stamps[0]).astype(np.float64)
    step[first] = np.nan
    if interval is not None:
        spacing = np.full(rows.size, interval.total_seconds() * 1e9)
    else:
        medians = pd.Series(step).groupby(np.cumsum(first)).transform("median").to_numpy()
        spacing = np.where(medians > 0, medians, np.nan)
    return _Samples(rows, stamps, first, last, step, spacing)


def series_shape(
    frame: pd.DataFrame,
    keys: tuple[pd.Categorical, pd.Categorical],
    period: tuple[datetime, datetime] | None,
    interval: timedelta | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the gap since its series' previous sample, and (on a series' first sample only) how much
    of `period` the series misses at either end, both in scrape intervals (NaN elsewhere or unknown)."""
    gap = np.full(len(frame), np.nan)
    uncovered = np.full(len(frame), np.nan)
    s = _samples(frame, keys, interval)
    if s is None:
        return gap, uncovered
    gap[s.rows] = s.step / s.spacing
    if period is not None:
        start, end = (pd.Timestamp(t).value for t in period)
        missed = np.maximum(np.maximum(s.stamps[s.first] - start, end - s.stamps[s.last]), 0)
        uncovered[s.rows[s.first]] = missed / s.spacing[s.last]  # any row of a series has its spacing
    return gap, uncovered


def series_gaps(frame: pd.DataFrame, interval: timedelta | None, max_intervals: float) -> pd.DataFrame:
    """Gaps longer than `max_intervals`: `service`, `metric`, `start`, `end` (aware), `intervals`, `line`."""
    columns = ["service", "metric", "start", "end", "intervals", "line"]
    s = None if frame.empty else _samples(frame, series_keys(frame), interval)
    if s is None:
        return pd.DataFrame(columns=columns)
    size = s.step / s.spacing
    long = np.flatnonzero(size > max_intervals)
    rows = s.rows[long]
    return pd.DataFrame(
        {
            "service": frame["service"].take(rows).to_numpy(),
            "metric": frame["metric"].take(rows).to_numpy(),
            "start": pd.to_datetime(s.stamps[long] - s.step[long].astype(np.int64), utc=True),
            "end": pd.to_datetime(s.stamps[long], utc=True),
            "intervals": size[long],
            "line": frame[LINE].take(rows).to_numpy() if LINE in frame.columns else rows,
        }
    )
