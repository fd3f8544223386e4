"""Incident bundle v1 (DESIGN 6.1): the Bundle, its evidence window and the strict reader.

Structural errors raise `BundleError` naming file, line and field. Value problems in
evidence are left in the frames for the data-quality checks and the cleaning step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from connectors.bundle_documents import read_actions, read_incident, read_topology
from connectors.bundle_evidence import read_csv, read_jsonl
from connectors.bundle_format import DATASETS, BundleError, empty_frame
from connectors.bundle_write import write_bundle
from postmortem.model import Action, Incident, Topology

# write_bundle is re-exported: Bundle, load_bundle and write_bundle are the bundle's public API
__all__ = ["Bundle", "incident_window", "load_bundle", "write_bundle"]


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
