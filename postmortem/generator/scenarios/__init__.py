"""Incident scenarios: what breaks, how it shows in metrics and logs, and how people talk about it.

One module per family of fault; `SCENARIOS` maps each scenario's name to its definition, in a fixed
order (the generator's tests and the shipped examples depend on it).
"""

from __future__ import annotations

from postmortem.generator.scenarios.capacity import SATURATION
from postmortem.generator.scenarios.dependencies import DEPENDENCY_OUTAGE
from postmortem.generator.scenarios.infrastructure import BAD_INFRA
from postmortem.generator.scenarios.releases import BAD_DEPLOY
from postmortem.generator.scenarios.runtime_config import CONFIG_CHANGE, FEATURE_FLAG
from postmortem.generator.scenarios.schema_changes import BAD_MIGRATION
from postmortem.generator.scenarios.spec import ActionSpec, ChatLine, Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        BAD_DEPLOY,
        CONFIG_CHANGE,
        FEATURE_FLAG,
        DEPENDENCY_OUTAGE,
        SATURATION,
        BAD_MIGRATION,
        BAD_INFRA,
    )
}

__all__ = ["SCENARIOS", "ActionSpec", "ChatLine", "Scenario"]
