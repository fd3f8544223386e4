"""Cleaning step: the frames the analysis uses, with duplicates and unusable values quarantined.

Rules (vectorised, one pass per dataset; the input frames are never mutated):
- a duplicate id (alerts `id`, commits `sha`, deploys `id`, tickets `key`: the dataset key in
  `connectors.bundle_format.DATASETS`) keeps its first occurrence; later ones are quarantined;
- a duplicate metric point (same `ts`, `service`, `metric`) keeps the first row, later ones are quarantined;
- a metric row whose value is not numeric (the reader kept the text in `value_raw`) is quarantined.
Out-of-window timestamps and unknown enum values are kept: the data-quality results report them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from connectors.bundle_format import DATASETS, LINE
from postmortem.model import Incident, Quarantined


def clean_frames(
    frames: Mapping[str, pd.DataFrame], incident: Incident
) -> tuple[dict[str, pd.DataFrame], list[Quarantined]]:
    """Frames for the analysis (unchanged frames are passed through as is) and the quarantined records.

    `incident` is part of the step's contract; the v1 rules do not depend on it.
    """
    cleaned = dict(frames)
    quarantine: list[Quarantined] = []
    for name, given in frames.items():
        spec = DATASETS.get(name)
        if spec is None or given.empty:
            continue
        frame = given.reset_index(drop=True)  # positional index; copy-on-write keeps `given` untouched
        drop = pd.Series(False, index=frame.index)
        if "value_raw" in frame.columns:
            bad = frame["value_raw"].notna().to_numpy(dtype=bool)
            if bad.any():
                raw = frame.loc[bad, "value_raw"]
                reasons = "value " + raw.map(repr) + " is not numeric"
                quarantine += _quarantined(frame, bad, reasons, spec.file, "value")
                drop |= bad
        if spec.key:
            dup, reasons = _duplicates(frame, list(spec.key), ~drop)
            if dup.any():
                quarantine += _quarantined(frame, dup, reasons, spec.file, ",".join(spec.key))
                drop |= dup
        if drop.any():
            cleaned[name] = frame.loc[~drop.to_numpy()].reset_index(drop=True)
    quarantine.sort(key=lambda q: (q.file, q.line if q.line is not None else -1))
    return cleaned, quarantine


def _duplicates(frame: pd.DataFrame, keys: list[str], eligible: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Rows (of a frame with a RangeIndex) repeating an earlier eligible row's full key, with reasons."""
    mask = eligible & frame[keys].notna().all(axis=1)
    sub = frame.loc[mask, [*keys, LINE]]
    later = sub.duplicated(subset=keys, keep="first")
    dup = np.zeros(len(frame), dtype=bool)
    if not later.any():
        return dup, pd.Series(dtype="string")
    involved = sub.loc[sub.duplicated(subset=keys, keep=False)]
    first_line = involved.groupby(keys, sort=False, dropna=False)[LINE].transform("first")
    repeats = involved.loc[later.loc[involved.index]]
    first_line = first_line.loc[repeats.index]
    if len(keys) == 1:
        label = f"duplicate {keys[0]} " + repeats[keys[0]].astype("string")
    else:
        label = "duplicate row " + _describe_keys(repeats, keys)
    reasons = label + " (first at line " + first_line.astype("string") + ")"
    dup[repeats.index.to_numpy()] = True
    return dup, reasons


def _describe_keys(rows: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """`(ts=..., service=..., metric=...)` for each row, timestamps in ISO 8601."""
    parts = []
    for key in keys:
        col = rows[key]
        text = col.map(json_safe).astype("string") if isinstance(col.dtype, pd.DatetimeTZDtype) else col
        parts.append(f"{key}=" + text.astype("string"))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + ", " + part
    return "(" + joined + ")"


def _quarantined(
    frame: pd.DataFrame, mask: np.ndarray, reasons: pd.Series, file: str, field: str
) -> list[Quarantined]:
    """One Quarantined per masked row, with its reason, line and JSON-safe record."""
    rows = frame.loc[mask]
    records = json_records(rows.drop(columns=[LINE], errors="ignore"))
    lines = rows[LINE].tolist() if LINE in rows.columns else [None] * len(rows)
    return [
        Quarantined(file=file, line=line, field=field, reason=reason, record=record)
        for line, reason, record in zip(lines, reasons.tolist(), records, strict=True)
    ]


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts: timestamps in ISO 8601 (UTC as `Z`), missing values as None."""
    return [{k: json_safe(v) for k, v in row.items()} for row in frame.to_dict("records")]


def json_safe(value: Any) -> Any:
    """A JSON-safe version of a frame value (timestamps ISO 8601, NaN/NA/NaT as None, numpy as Python)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
