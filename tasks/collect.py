"""Evidence collection for a live incident: the `collect` code writing a bundle into the data directory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.collect import collect, resolve_incident
from connectors.config import load_config
from postmortem.model import Incident


@dataclass
class Collection:
    """Where the bundle of a collection went and how complete it is (JSON-safe via `as_dict`)."""

    incident: str
    bundle: str
    status: str
    datasets: dict[str, int]
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The collection as plain data (flow summary, audit log)."""
        return {
            "incident": self.incident,
            "bundle": self.bundle,
            "status": self.status,
            "datasets": dict(self.datasets),
            "errors": list(self.errors),
            "duration_s": round(self.duration_s, 3),
        }


def bundle_dir(data_dir: str | Path, incident_id: str) -> Path:
    """`<data_dir>/bundles/<incident id>/` (characters unsafe in a file name replaced by `_`)."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", incident_id).lstrip(".") or "_"
    return Path(data_dir).resolve() / "bundles" / safe


def collect_incident(
    config_path: str | Path, incident: str | Incident, data_dir: str | Path, expected_id: str | None = None
) -> Collection:
    """Load the config, resolve the incident (file or id; a record as is) and collect its evidence into the
    data directory.

    A failing source makes the collection partial, not failed; a bad config or incident raises ValueError.
    """
    config = load_config(config_path)
    record = incident if isinstance(incident, Incident) else resolve_incident(config, incident)
    if expected_id is not None and record.id != expected_id:
        raise ValueError(f"{incident} holds incident {record.id!r}, not {expected_id!r}")
    result = collect(record, config, bundle_dir(data_dir, record.id))
    return Collection(
        incident=record.id,
        bundle=str(result.path),
        status="partial" if result.partial else "complete",
        datasets=result.datasets,
        errors=result.errors,
        duration_s=result.duration_s,
    )
