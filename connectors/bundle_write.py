"""Writing an incident bundle v1 directory from plain records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from connectors.bundle_format import DATASETS, LINE


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
