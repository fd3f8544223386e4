"""Proposed remediation actions: well-formed ones for the scenario, and typical bad ones for the gate."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from postmortem.generator.story import Story
from postmortem.generator.vocab import VAGUE_ACTIONS

FUTURE = (date(2027, 1, 15), date(2028, 11, 30))
PAST = (date(2025, 3, 1), date(2025, 12, 15))
EFFORTS = ("S", "M", "L", "2d", "5d", 3)


def _day(rng: np.random.Generator, bounds: tuple[date, date]) -> str:
    days = (bounds[1] - bounds[0]).days
    return (bounds[0] + timedelta(days=int(rng.integers(0, days + 1)))).isoformat()


def build_actions(rng: np.random.Generator, story: Story) -> list[dict]:
    """Good actions (owner, future due, type, hypothesis ...) mixed with vague, ownerless or overdue ones."""
    owners = [story.people[k] for k in ("owner", "oncall", "commander", "responder", "extra1")]
    good = []
    for spec in story.scenario.actions:
        good.append(
            {
                "title": story.fmt(spec.title),
                "description": story.fmt(spec.description)
                if spec.description
                else story.fmt(spec.hypothesis),
                "owner": owners[int(rng.integers(len(owners)))],
                "due": _day(rng, FUTURE),
                "type": spec.type,
                "hypothesis": story.fmt(spec.hypothesis),
                "expected_impact": story.fmt(spec.expected_impact),
                "success_metric": story.fmt(spec.success_metric),
                "rollback_plan": story.fmt(spec.rollback_plan),
                "effort": EFFORTS[int(rng.integers(len(EFFORTS)))],
            }
        )
    bad = []
    for i in rng.choice(len(VAGUE_ACTIONS), size=int(rng.integers(2, 4)), replace=False):
        spec = dict(VAGUE_ACTIONS[int(i)])
        due = spec.pop("due", "FUTURE")
        record = {
            "title": story.fmt(spec.pop("title")),
            "owner": owners[int(rng.integers(len(owners)))],
            "due": _day(rng, PAST) if due == "PAST" else (None if due is None else _day(rng, FUTURE)),
        }
        record.update(spec)
        bad.append(record)
    if rng.random() < 0.5:
        dup = dict(good[0])
        dup["title"] = dup["title"].lower() + "."
        dup["owner"] = owners[int(rng.integers(len(owners)))]
        bad.append(dup)
    actions = good + bad
    order = rng.permutation(len(actions))
    return [actions[int(i)] for i in order]
