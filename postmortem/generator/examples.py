"""The example bundles shipped in `examples/`, regenerated identically from fixed seeds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from postmortem.generator.generate import generate_incident
from postmortem.generator.truth import GroundTruth

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Example:
    """One shipped example: directory name, scenario and seed."""

    name: str
    scenario: str
    seed: int
    log_lines: int = 2500
    points_per_series: int = 200


EXAMPLES = (
    Example("bad-deploy-rollback", "bad_deploy", 29),
    Example("feature-flag-change", "feature_flag", 8),
    Example("config-change", "config_change", 6),
    Example("dependency-outage", "dependency_outage", 14),
    Example("saturation-innocent-deploy", "saturation", 4),
    Example("bad-migration", "bad_migration", 8),
)


def make_examples(root: Path = EXAMPLES_DIR) -> dict[str, GroundTruth]:
    """Write every example bundle under `root`; returns the ground truth per example name."""
    return {
        ex.name: generate_incident(
            root / ex.name,
            ex.scenario,
            seed=ex.seed,
            log_lines=ex.log_lines,
            points_per_series=ex.points_per_series,
        )
        for ex in EXAMPLES
    }
