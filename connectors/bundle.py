"""Incident bundle v1 (DESIGN 6.1): strict reader and writer.

Structural errors raise `BundleError` naming file, line and field. Value problems in
evidence are left in the frames for the data-quality checks and the cleaning step.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from pydantic import BaseModel, ValidationError

from postmortem.model import (
    Action,
    Alert,
    Change,
    ChatMessage,
    Commit,
    Incident,
    LogRecord,
    MetricPoint,
    Ticket,
    Topology,
)

LINE = "_line"
_OFFSET_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


class BundleError(ValueError):
    """A structural error in a bundle: names the file, the line and the field."""

    def __init__(self, file: str, line: int | None, field: str | None, problem: str):
        self.file, self.line, self.field, self.problem = file, line, field, problem
        where = f"{file}:{line}" if line is not None else file
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {problem}")


@dataclass(frozen=True)
class DatasetSpec:
    """How one evidence file of the bundle maps to a frame."""

    name: str
    file: str
    model: type[BaseModel]
    required: tuple[str, ...]
    timestamps: tuple[str, ...]
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Columns the model declares, in declaration order."""
        return list(self.model.model_fields)


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("alerts", "alerts.jsonl", Alert, ("id", "ts"), ("ts", "ends_at"), ("id",)),
        DatasetSpec(
            "metrics",
            "metrics.csv",
            MetricPoint,
            ("ts", "service", "metric", "value"),
            ("ts",),
            ("ts", "service", "metric"),
        ),
        DatasetSpec("logs", "logs.jsonl", LogRecord, ("ts",), ("ts",)),
        DatasetSpec("commits", "commits.jsonl", Commit, ("sha", "ts"), ("ts",), ("sha",)),
        DatasetSpec("deploys", "deploys.jsonl", Change, ("id", "ts"), ("ts",), ("id",)),
        DatasetSpec("chat", "chat.jsonl", ChatMessage, ("ts",), ("ts",)),
        DatasetSpec("tickets", "tickets.jsonl", Ticket, ("key", "ts"), ("ts",), ("key",)),
    )
}


@dataclass
class Bundle:
    """An incident with its evidence: one DataFrame per dataset, rows as read (with `_line`)."""

    incident: Incident
    frames: dict[str, pd.DataFrame]
    topology: Topology = field(default_factory=Topology)
    actions: list[Action] = field(default_factory=list)
    present: set[str] = field(default_factory=set)
    path: Path | None = None

    @property
    def missing(self) -> list[str]:
        """Optional files the bundle does not have."""
        optional = [s.file for s in DATASETS.values()] + ["topology.json", "actions.jsonl"]
        return [f for f in optional if f not in self.present]

    def window(self, before: timedelta = timedelta(hours=6), after: timedelta = timedelta(minutes=30)):
        """Evidence window: `before` ahead of the first milestone to `after` past the last."""
        return incident_window(self.incident, before, after)


def incident_window(
    incident: Incident, before: timedelta = timedelta(hours=6), after: timedelta = timedelta(minutes=30)
) -> tuple[datetime | None, datetime | None]:
    """Evidence window around an incident's milestones (None when it has none)."""
    stamps = [t for t in incident.milestones().values() if t is not None]
    if not stamps:
        return None, None
    return min(stamps) - before, max(stamps) + after


def empty_frame(spec: DatasetSpec) -> pd.DataFrame:
    """A frame with the dataset's columns and no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in spec.columns})
    for col in spec.timestamps:
        frame[col] = pd.Series(dtype="datetime64[ns, UTC]")
    if spec.name == "metrics":
        frame["value"] = pd.Series(dtype="float64")
    frame[LINE] = pd.Series(dtype="int64")
    return frame


# ---------------------------------------------------------------- reading


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle directory with strict structural validation."""
    root = Path(path)
    if not root.is_dir():
        raise BundleError(str(root), None, None, "bundle directory not found")
    incident = read_incident(root / "incident.json")
    present = {"incident.json"}
    frames: dict[str, pd.DataFrame] = {}
    for spec in DATASETS.values():
        file = root / spec.file
        if file.exists():
            present.add(spec.file)
            frames[spec.name] = read_csv(file, spec) if spec.file.endswith(".csv") else read_jsonl(file, spec)
        else:
            frames[spec.name] = empty_frame(spec)
    topology = Topology()
    if (root / "topology.json").exists():
        present.add("topology.json")
        topology = read_topology(root / "topology.json")
    actions: list[Action] = []
    if (root / "actions.jsonl").exists():
        present.add("actions.jsonl")
        actions = read_actions(root / "actions.jsonl")
    return Bundle(incident, frames, topology, actions, present, root)


def _json_error_line(text: str, exc: json.JSONDecodeError | orjson.JSONDecodeError) -> int:
    return getattr(exc, "lineno", None) or text.count("\n", 0, getattr(exc, "pos", 0)) + 1


def _key_line(text: str, key: str) -> int | None:
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def read_incident(file: Path) -> Incident:
    """Read and validate `incident.json`."""
    name = file.name
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(name, None, None, "required file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(name, None, None, f"cannot read file: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(name, exc.lineno, None, f"not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise BundleError(name, 1, None, "expected a JSON object")
    for key in ("id", "severity"):
        if data.get(key) in (None, ""):
            raise BundleError(name, 1, key, "required key is missing")
    try:
        return Incident.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        fld = ".".join(str(p) for p in err["loc"]) or None
        top = str(err["loc"][0]) if err["loc"] else ""
        problem = _describe(err, data.get(top))
        raise BundleError(name, _key_line(text, top) or 1, fld, problem) from None


def _describe(err: Mapping[str, Any], value: Any) -> str:
    kind = err.get("type", "")
    if kind == "timezone_aware":
        return f"timestamp {value!r} has no UTC offset (add Z or +hh:mm)"
    if kind == "literal_error":
        return f"unknown value {value!r}: {err['msg'].replace('Input should be ', 'expected ')}"
    return f"{err['msg']} (got {value!r})"


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


def read_topology(file: Path) -> Topology:
    """Read `topology.json`."""
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(file.name, exc.lineno, None, f"not valid JSON: {exc.msg}") from None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not all(isinstance(v, list) for v in services.values()):
        raise BundleError(
            file.name,
            _key_line(text, "services") or 1,
            "services",
            'expected {"services": {"<service>": ["<callee>", ...]}}',
        )
    return Topology(services={str(k): [str(x) for x in v] for k, v in services.items()})


def read_actions(file: Path) -> list[Action]:
    """Read proposed actions; invalid optional fields are nulled and recorded for the gate."""
    actions: list[Action] = []
    with file.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BundleError(
                    file.name, number, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
                ) from None
            if not isinstance(obj, dict):
                raise BundleError(file.name, number, None, "expected a JSON object")
            if not obj.get("title"):
                raise BundleError(file.name, number, "title", "required key is missing")
            invalid: dict[str, Any] = {}
            while True:
                try:
                    action = Action.model_validate(obj)
                    break
                except ValidationError as exc:
                    bad = str(exc.errors()[0]["loc"][0])
                    if bad == "title" or bad in invalid:
                        raise BundleError(file.name, number, bad, exc.errors()[0]["msg"]) from None
                    invalid[bad] = obj.pop(bad)
            if invalid:
                action.invalid_fields = invalid  # type: ignore[attr-defined]
            action.line = number  # type: ignore[attr-defined]
            actions.append(action)
    return actions


# ---------------------------------------------------------------- writing


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat().replace("+00:00", "Z")
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def write_bundle(
    path: str | Path,
    incident: Mapping[str, Any],
    datasets: Mapping[str, Iterable[Mapping[str, Any]] | pd.DataFrame] | None = None,
    topology: Mapping[str, list[str]] | None = None,
    actions: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Write a bundle v1 directory from plain records (used by the generator, collect and tests)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / "incident.json").write_text(json.dumps(incident, indent=2, default=_jsonable) + "\n")
    for name, records in (datasets or {}).items():
        spec = DATASETS[name]
        if isinstance(records, pd.DataFrame):
            records = records.drop(columns=[LINE], errors="ignore").to_dict("records")
        if spec.file.endswith(".csv"):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(["ts", "service", "metric", "value"])
            writer.writerows([_jsonable(r["ts"]), r["service"], r["metric"], r["value"]] for r in records)
            (root / spec.file).write_text(buf.getvalue())
        else:
            with (root / spec.file).open("wb") as fh:
                for rec in records:
                    fh.write(orjson.dumps({k: _jsonable(v) for k, v in rec.items()}) + b"\n")
    if topology is not None:
        (root / "topology.json").write_text(json.dumps({"services": dict(topology)}, indent=2) + "\n")
    actions = list(actions)
    if actions:
        with (root / "actions.jsonl").open("wb") as fh:
            for act in actions:
                fh.write(orjson.dumps(dict(act), default=str) + b"\n")
    return root
