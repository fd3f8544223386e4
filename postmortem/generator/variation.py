"""Perturbations of a generated incident, for evaluating root-cause signals on harder, messier evidence.

A `Variation` changes how the change records of an incident look (more innocent changes near the onset,
a slow-burning culprit, a skewed deploy-tool clock, a rollback recorded as a plain deploy or not at all,
a service missing from the deploy source) without changing what happened. Its defaults change nothing,
and it draws from its own random stream, so an incident generated without one is byte-identical to one
generated before variations existed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np

from postmortem.generator.story import Story, hm, minutes

MitigationRecord = Literal["as_scenario", "deploy", "fix_forward", "missing"]
DECOY_KINDS = ("deploy", "config", "feature_flag", "infra")
DECOY_KIND_P = (0.55, 0.2, 0.15, 0.1)
DATASTORE_KINDS = ("migration", "infra", "config")
DECOY_WINDOW_MIN = (-45.0, 10.0)  # decoys land this many minutes around the onset (negative: before)


@dataclass(frozen=True)
class Variation:
    """How the change evidence of a generated incident is perturbed (the defaults change nothing)."""

    culprit_lead_min: tuple[float, float] | None = None  # minutes from the culprit change to the onset
    extra_decoys: int = 0  # innocent changes near the onset on other services (or the root in staging)
    change_clock_skew_s: int = 0  # every change record's timestamp is shifted by this (deploy-tool clock)
    drop_root_changes: bool = False  # the change sources have no record for the root service
    mitigation_record: MitigationRecord = "as_scenario"  # how the mitigating change shows in the records
    culprit_status: str | None = None  # overrides the culprit's status (e.g. never marked rolled back)

    @property
    def is_default(self) -> bool:
        """True when this variation changes nothing."""
        return self == Variation()

    def describe(self) -> dict[str, Any]:
        """The fields that differ from the defaults (for the ground truth)."""
        default = asdict(Variation())
        return {k: v for k, v in asdict(self).items() if v != default[k]}


NO_VARIATION = Variation()


def vary_story(rng: np.random.Generator, story: Story, variation: Variation) -> None:
    """Move the culprit change to the requested lead before the onset (and the story text with it)."""
    if variation.culprit_lead_min is None or story.change_ts is None:
        return
    story.change_ts = story.onset - minutes(rng, *variation.culprit_lead_min)
    story.ctx["change_hm"] = hm(story.change_ts)
    story.ctx["lead_min"] = str(round((story.onset - story.change_ts).total_seconds() / 60))


def decoy_changes(rng: np.random.Generator, story: Story, count: int) -> list[dict]:
    """`count` innocent changes near the onset: on callers, dependencies or unrelated services of the root,
    or on the root itself in staging. Records carry `ts`, `service`, `kind`, `status`, `environment`,
    `actor` and `description`; the caller assigns ids."""
    graph, root = story.graph, story.root
    changeable = [s for s in graph.services if graph.kinds[s] != "provider" and s != root]
    out = []
    for _ in range(count):
        staging = graph.kinds[root] != "provider" and rng.random() < 0.15
        service = root if staging or not changeable else changeable[int(rng.integers(len(changeable)))]
        if graph.kinds[service] in ("db", "cache"):
            kind = str(rng.choice(DATASTORE_KINDS))
        else:
            kind = str(rng.choice(DECOY_KINDS, p=DECOY_KIND_P))
        out.append(
            {
                "_role": "decoy",
                "ts": story.onset + minutes(rng, *DECOY_WINDOW_MIN),
                "service": service,
                "kind": kind,
                "status": "failed" if rng.random() < 0.05 else "succeeded",
                "environment": "staging" if staging else "production",
                "actor": story.people[f"extra{int(rng.integers(4))}"],
                "description": f"{kind.replace('_', ' ')} change to {service}",
            }
        )
    return out


def perturb_records(
    changes: list[dict], story: Story, variation: Variation, mitigation: str | None
) -> list[dict]:
    """Apply the record-level perturbations: clock skew, a root service missing, a missing mitigation."""
    if variation.change_clock_skew_s:
        skew = timedelta(seconds=variation.change_clock_skew_s)
        for rec in changes:
            rec["ts"] = rec["ts"] + skew
    if variation.drop_root_changes:
        changes = [rec for rec in changes if rec["service"] != story.root]
    if variation.mitigation_record == "missing":
        changes = [rec for rec in changes if rec["id"] != mitigation]
    return changes
