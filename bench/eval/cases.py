"""Labelled evaluation cases: generated incidents across fault types, with decoys, noise and missing data.

Each case is a `CaseSpec` drawn from (base seed, case number) alone, so a run is reproducible and the
tuning and held-out splits never share an incident: the tuning split uses base seed 1, the held-out split
base seed 2 (`SPLITS`), and every generator seed is `base * 1_000_000 + case number`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from connectors.bundle import Bundle, load_bundle
from postmortem.generator import SCENARIOS, GroundTruth, Variation, generate_incident

SPLITS = {"tune": 1, "heldout": 2}
NO_CHANGE_KINDS = ("dependency", "saturation")
DROPPABLE = ("deploys", "commits", "topology", "metrics", "logs")
DROP_P = (0.3, 0.3, 0.2, 0.1, 0.1)
LOG_LINES = 1500

# change: the culprit's change record is in the data; commit_only: its deploy record is missing but its
# commits are there; no_change: no change caused the incident; unobservable: nothing of the culprit is left
Expectation = Literal["change", "commit_only", "no_change", "unobservable"]


@dataclass(frozen=True)
class CaseSpec:
    """One evaluation case: which incident to generate and how to perturb it."""

    number: int
    scenario: str
    seed: int
    variation: Variation = field(default_factory=Variation)
    drop_sources: tuple[str, ...] = ()
    changes: int | None = None  # background change records (None: the generator's default 40-90)
    commits: int | None = None

    @property
    def tags(self) -> list[str]:
        """Short names of the perturbations applied (for the breakdown table)."""
        v = self.variation
        out = [f"drop:{name}" for name in self.drop_sources]
        if v.extra_decoys:
            out.append("decoys")
        if self.changes is not None:
            out.append("busy")
        if v.culprit_lead_min is not None:
            out.append("slow-burn" if v.culprit_lead_min[0] >= 60 else "late-onset")
        if v.change_clock_skew_s:
            out.append("clock-skew")
        if v.drop_root_changes:
            out.append("drop:root-changes")
        if v.mitigation_record != "as_scenario":
            out.append(f"mitigation:{v.mitigation_record}")
        if v.culprit_status:
            out.append("status-unmarked")
        return out or ["clean"]


@dataclass(frozen=True)
class Label:
    """What a correct analysis says about a case."""

    expectation: Expectation
    culprit_ids: frozenset[str]  # ids that name the culprit and are present in the evidence
    root_service: str
    truth: GroundTruth


def case_specs(count: int, base_seed: int, scenarios: list[str] | None = None) -> list[CaseSpec]:
    """`count` cases; scenarios in shuffled rounds so every scenario gets the same share."""
    names = scenarios or list(SCENARIOS)
    order_rng = np.random.default_rng([base_seed, 0])
    rounds = -(-count // len(names))
    order = [names[i] for _ in range(rounds) for i in order_rng.permutation(len(names))][:count]
    return [_spec(number, scenario, base_seed) for number, scenario in enumerate(order)]


def _spec(number: int, scenario: str, base_seed: int) -> CaseSpec:
    """Draw one case's perturbations from its own random stream."""
    rng = np.random.default_rng([base_seed, 1, number])
    decoys = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0
    busy = rng.random() < 0.25
    lead_draw = rng.random()
    lead = None if lead_draw < 0.75 else (20.0, 60.0) if lead_draw < 0.92 else (60.0, 150.0)
    skew = int(rng.choice([-1, 1]) * rng.integers(30, 241)) if rng.random() < 0.15 else 0
    mitigation = str(
        rng.choice(["as_scenario", "deploy", "fix_forward", "missing"], p=[0.6, 0.15, 0.1, 0.15])
    )
    status = "succeeded" if rng.random() < 0.2 else None
    drop_root = bool(rng.random() < 0.07)
    drops = (str(rng.choice(DROPPABLE, p=DROP_P)),) if rng.random() < 0.15 else ()
    return CaseSpec(
        number=number,
        scenario=scenario,
        seed=base_seed * 1_000_000 + number,
        variation=Variation(
            culprit_lead_min=lead,
            extra_decoys=decoys,
            change_clock_skew_s=skew,
            drop_root_changes=drop_root,
            mitigation_record=mitigation,  # type: ignore[arg-type]
            culprit_status=status,
        ),
        drop_sources=drops,
        changes=int(rng.integers(150, 400)) if busy else None,
        commits=int(rng.integers(400, 1500)) if busy else None,
    )


def build_case(spec: CaseSpec, directory: Path) -> tuple[Bundle, Label]:
    """Generate the case's bundle into `directory`, load it, and label it from its ground truth."""
    truth = generate_incident(
        directory,
        spec.scenario,
        seed=spec.seed,
        log_lines=LOG_LINES,
        commits=spec.commits,
        deploys=spec.changes,
        drop_sources=spec.drop_sources,
        variation=spec.variation,
    )
    bundle = load_bundle(directory)
    return bundle, label(bundle, truth)


def label(bundle: Bundle, truth: GroundTruth) -> Label:
    """The expected answer: the culprit's ids present in the evidence (its change record, else its commits),
    or no change, or nothing observable."""
    recorded = truth.root_cause_change_id in set(bundle.frames["deploys"]["id"].astype(str))
    commits = set(bundle.frames["commits"]["sha"].astype(str))
    culprits = {str(sha) for sha in truth.culprit_commit_shas if sha in commits}
    if recorded:
        culprits.add(str(truth.root_cause_change_id))
    if truth.root_cause_change_id is None:
        expectation: Expectation = "no_change"
    elif recorded:
        expectation = "change"
    elif culprits:
        expectation = "commit_only"
    else:
        expectation = "unobservable"
    return Label(expectation, frozenset(culprits), truth.root_service, truth)
