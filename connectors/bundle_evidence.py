"""Reading the bundle's evidence files (JSONL, metrics CSV) into frames, with file:line structural errors.

Value problems in evidence are left in the frames for the data-quality checks and the cleaning step.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from connectors.bundle_format import LINE, BundleError, DatasetSpec, empty_frame

_OFFSET_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def read_jsonl(file: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Read one JSONL evidence file into a frame, checking required keys and timestamps."""
    data = file.read_bytes()
    frame = _read_jsonl_arrow(data, spec)
    if frame is None:
        frame = _read_jsonl_lines(data, spec)
    if frame.empty:
        return empty_frame(spec)
    return _finish(frame, spec)


def _read_jsonl_arrow(data: bytes, spec: DatasetSpec) -> pd.DataFrame | None:
    """Fast path with pyarrow; None when the file needs the line-by-line reader (errors, blank lines)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if not data.strip():
        return pd.DataFrame()
    schema = pa.schema([(c, pa.string()) for c in spec.timestamps])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != lines:
        return None
    nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
    frame = table.drop_columns(nested).to_pandas()
    for name in nested:
        frame[name] = table.column(name).to_pylist()
    frame[LINE] = np.arange(1, len(frame) + 1)
    return frame


def _read_jsonl_lines(data: bytes, spec: DatasetSpec) -> pd.DataFrame:
    """Line-by-line reader: tolerant of blank lines and mixed types, exact line numbers in errors."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    loads = orjson.loads
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BundleError(
                spec.file, number, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(obj, dict):
            raise BundleError(spec.file, number, None, "expected a JSON object")
        rows.append(obj)
        lines.append(number)
    frame = pd.DataFrame.from_records(rows)
    frame[LINE] = lines
    return frame


def read_csv(file: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Read the long-format metrics CSV into a frame."""
    try:
        frame = pd.read_csv(file, dtype="string", keep_default_na=False, na_values=[""], engine="c")
    except pd.errors.EmptyDataError:
        return empty_frame(spec)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BundleError(spec.file, _csv_error_line(file, exc), None, f"malformed CSV: {exc}") from None
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise BundleError(spec.file, 1, missing[0], "required column is missing from the header")
    frame[LINE] = range(2, len(frame) + 2)
    frame = _finish(frame, spec)
    raw_value = frame["value"]
    frame["value"] = pd.to_numeric(raw_value, errors="coerce").astype("float64")
    bad = frame["value"].isna() & raw_value.notna() & (raw_value.str.lower() != "nan")
    if bad.any():
        frame["value_raw"] = raw_value.where(bad).astype("string")
    return frame


def _csv_error_line(file: Path, exc: Exception) -> int | None:
    match = re.search(r"line (\d+)", str(exc))
    if match:
        return int(match.group(1))
    with file.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        width = len(next(reader, []))
        for number, row in enumerate(reader, start=2):
            if len(row) != width:
                return number
    return None


def _finish(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    for col in spec.required:
        if col not in frame.columns:
            raise BundleError(spec.file, int(frame[LINE].iloc[0]), col, "required key is missing")
        null = frame[col].isna()
        if null.any():
            raise BundleError(spec.file, int(frame.loc[null.idxmax(), LINE]), col, "required key is missing")
    for col in spec.columns:
        if col not in frame.columns:
            frame[col] = None
    for col in spec.timestamps:
        frame[col] = parse_timestamps(frame, col, spec.file)
    ordered = spec.columns + [c for c in frame.columns if c not in spec.columns]
    return frame[ordered].reset_index(drop=True)


def parse_timestamps(frame: pd.DataFrame, col: str, file: str) -> pd.Series:
    """Parse an ISO 8601 column to UTC; a value without offset or unparseable is a BundleError."""
    raw = frame[col]
    present = raw.notna()
    if not present.any():
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    text = raw[present]
    is_str = text.map(type).eq(str) if text.dtype == object else pd.Series(True, index=text.index)
    if not is_str.all():
        idx = is_str.idxmin()
        raise BundleError(
            file, int(frame.loc[idx, LINE]), col, f"timestamp {raw[idx]!r} is not an ISO 8601 string"
        )
    text = text.astype("string")
    naive = ~text.str.contains(_OFFSET_RE, regex=True)
    if naive.any():
        idx = naive.idxmax()
        raise BundleError(
            file,
            int(frame.loc[idx, LINE]),
            col,
            f"timestamp {raw[idx]!r} has no UTC offset (add Z or +hh:mm)",
        )
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        idx = bad.idxmax()
        raise BundleError(
            file, int(frame.loc[idx, LINE]), col, f"timestamp {raw[idx]!r} is not valid ISO 8601"
        )
    return parsed.reindex(frame.index).astype("datetime64[ns, UTC]")
