"""Every check the project runs, by `source.check`, with its default severity and rule (docs, policy)."""

from __future__ import annotations

from postmortem.model import QualitySeverity
from tasks.quality.collection import COLLECTION, COLLECTION_CHECKS
from tasks.quality.config import QualitySettings
from tasks.quality.cross import CROSS, CROSS_CHECKS
from tasks.quality.incident import INCIDENT, INCIDENT_CHECKS
from tasks.quality.policy import Policy
from tasks.quality.suites import dataset_checks

QUALITY_CHECKS_VERSION = "3"
"""Bumped whenever a check, its rule or its default severity changes (shown in the Data Docs and artifact)."""


def catalogue(settings: QualitySettings) -> dict[str, tuple[QualitySeverity, str]]:
    """`source.check` -> (default severity, rule): incident, datasets, cross-source, then collection."""
    out: dict[str, tuple[QualitySeverity, str]] = {
        f"{INCIDENT}.{name}": (severity, rule) for name, (severity, rule) in INCIDENT_CHECKS.items()
    }
    for dataset, checks in dataset_checks(settings).items():
        out |= {f"{dataset}.{c.name}": (c.severity, c.rule) for c in checks}
    out |= {f"{CROSS}.{name}": (severity, rule) for name, (severity, rule) in CROSS_CHECKS.items()}
    out |= {f"{COLLECTION}.{name}": (sev, rule) for name, (sev, rule) in COLLECTION_CHECKS.items()}
    return out


def build_policy(settings: QualitySettings) -> Policy:
    """The severity policy of these settings (unknown check names in the overrides are an error)."""
    tolerant = [f"{d}.{c.name}" for d, checks in dataset_checks(settings).items() for c in checks]
    defaults = {key: severity for key, (severity, _) in catalogue(settings).items()}
    return Policy(defaults, settings, tolerant)


CHECK_SEVERITY: dict[str, QualitySeverity] = {
    key: severity for key, (severity, _) in catalogue(QualitySettings.model_construct()).items()
}
"""Default severity of every check, by `source.check`."""
