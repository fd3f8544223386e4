"""Validate a bundle: the incident record's suite, then one GX batch per evidence dataset."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from connectors.bundle import Bundle, incident_window
from connectors.bundle_format import DATASETS
from postmortem.model import Incident, QualityResult
from tasks.quality.catalogue import build_policy
from tasks.quality.checks import WINDOW_END, WINDOW_START
from tasks.quality.collection import collection_checks
from tasks.quality.config import QualitySettings, quality_settings
from tasks.quality.incident import incident_checks
from tasks.quality.policy import Policy
from tasks.quality.results import gx_result, note
from tasks.quality.runner import runner
from tasks.quality.suites import (
    PERIOD_CHECKS,
    WINDOW_CHECKS,
    actions_frame,
    dataset_checks,
    gx_input,
    incident_period,
)

ACTIONS = "actions"


def check_quality(
    bundle: Bundle,
    *,
    settings: QualitySettings | None = None,
    policy: Policy | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> list[QualityResult]:
    """Every check of every dataset on the raw frames, incident checks first; one result per check.

    `window` overrides the evidence window (default: `[quality.window]` around the milestones).
    """
    settings = settings or quality_settings()
    policy = policy or build_policy(settings)
    incident = bundle.incident
    if window is None:
        window = incident_window(incident, settings.window.before, settings.window.after)
    results = incident_checks(incident, settings, policy)
    inputs = {
        name: bundle.frames.get(name, pd.DataFrame()) for name in dataset_checks(settings) if name != ACTIONS
    }
    inputs[ACTIONS] = actions_frame(bundle.actions)
    for name, frame in inputs.items():
        file = DATASETS[name].file if name in DATASETS else "actions.jsonl"
        if frame.empty:
            there = file in bundle.present
            results.append(
                note(
                    name,
                    "dataset_empty" if there else "dataset_absent",
                    f"{file} {'has no records' if there else 'is not in the bundle'}: its checks did not run",
                )
            )
            continue
        results += validate_frame(name, frame, incident, window, settings, policy)
    return results + collection_checks(bundle.path, policy)


def validate_frame(
    name: str,
    frame: pd.DataFrame,
    incident: Incident,
    window: tuple[datetime | None, datetime | None],
    settings: QualitySettings,
    policy: Policy,
) -> list[QualityResult]:
    """Validate one non-empty raw frame with its dataset's suite in one GX batch."""
    start, end = window
    period = incident_period(incident)
    skipped = set()
    if start is None or end is None:
        skipped |= WINDOW_CHECKS
    if period is None:
        skipped |= PERIOD_CHECKS
    checks = [policy.apply(name, c) for c in dataset_checks(settings)[name] if c.name not in skipped]
    data = gx_input(name, frame, checks, period, settings)
    params = {WINDOW_START: _naive_utc(start), WINDOW_END: _naive_utc(end)} if start and end else {}
    outcomes = runner().validate(name, checks, data, params, settings.examples)
    results = [gx_result(name, c, outcomes[c.name], frame, data, settings.examples) for c in checks]
    for check in sorted(skipped & {c.name for c in dataset_checks(settings)[name]}):
        results.append(note(name, check, "the incident has no milestones, so this check could not run"))
    return results


def _naive_utc(moment: datetime | None) -> pd.Timestamp:
    """An aware moment as a naive UTC timestamp, like the timestamp columns GX sees."""
    return pd.Timestamp(moment).tz_convert(None)
