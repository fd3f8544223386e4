"""Generate one complete bundle v1 directory with its ground truth."""

from __future__ import annotations

import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from connectors.bundle import write_bundle
from connectors.bundle_format import DATASETS
from postmortem.generator.actions import build_actions
from postmortem.generator.alerts import build_alerts
from postmortem.generator.changes import build_changes
from postmortem.generator.comms import build_chat, build_tickets
from postmortem.generator.incident import build_incident
from postmortem.generator.logs import plan_logs, render_lines
from postmortem.generator.metrics import metric_table
from postmortem.generator.scenarios import SCENARIOS
from postmortem.generator.story import build_story
from postmortem.generator.truth import GroundTruth
from postmortem.generator.variation import NO_VARIATION, Variation, vary_story
from postmortem.generator.writer import write_lines, write_metrics_csv

GROUND_TRUTH = "ground_truth.json"
SOURCES = (*DATASETS, "topology", "actions")
_STREAMS = ("story", "changes", "alerts", "incident", "comms", "actions", "logs", "metrics", "variation")


def generate_incident(
    out: Path,
    scenario: str,
    *,
    seed: int = 0,
    log_lines: int = 5000,
    metric_series: int | None = None,
    points_per_series: int | None = None,
    commits: int | None = None,
    deploys: int | None = None,
    incident_id: str | None = None,
    drop_sources: Collection[str] = (),
    variation: Variation = NO_VARIATION,
) -> GroundTruth:
    """Write a bundle for `scenario` into `out` (plus `ground_truth.json`) and return the ground truth.

    The same arguments always produce the same files. Sizes left as None are drawn from the seed;
    `drop_sources` (dataset names such as "deploys" or "logs") leaves those files out; `variation`
    perturbs the change records (see `postmortem.generator.variation`).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    unknown = sorted(set(drop_sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown source(s) to drop: {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    for name, value in (("log_lines", log_lines), ("metric_series", metric_series), ("commits", commits)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative")
    entropy = [seed, zlib.crc32(scenario.encode())]
    rngs = dict(
        zip(
            _STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(len(_STREAMS))),
            strict=True,
        )
    )

    story = build_story(rngs["story"], SCENARIOS[scenario], incident_id)
    vary_story(rngs["variation"], story, variation)
    changes, commit_records, marks = build_changes(
        rngs["changes"], story, deploys, commits, variation, rngs["variation"]
    )
    alerts = build_alerts(rngs["alerts"], story, None)
    incident = build_incident(rngs["incident"], story)
    chat = build_chat(rngs["comms"], story, changes, None)
    tickets = build_tickets(rngs["comms"], story, incident["title"])
    actions = build_actions(rngs["actions"], story)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [spec.file for spec in DATASETS.values()] + ["topology.json", "actions.jsonl", GROUND_TRUTH]:
        (out / stale).unlink(missing_ok=True)
    small = {
        "alerts": alerts,
        "commits": commit_records,
        "deploys": changes,
        "chat": chat,
        "tickets": tickets,
    }
    write_bundle(
        out,
        incident,
        {name: records for name, records in small.items() if name not in drop_sources},
        topology=None if "topology" in drop_sources else story.graph.calls,
        actions=() if "actions" in drop_sources else actions,
    )
    if "metrics" not in drop_sources:
        write_metrics_csv(
            out / "metrics.csv", metric_table(rngs["metrics"], story, metric_series, points_per_series)
        )
    if "logs" not in drop_sources:
        templates, ts, codes = plan_logs(rngs["logs"], story, log_lines)
        write_lines(out / "logs.jsonl", render_lines(rngs["logs"], story, templates, ts, codes))

    sc = story.scenario
    truth = GroundTruth(
        scenario=scenario,
        seed=seed,
        incident_id=story.incident_id,
        root_service=story.root,
        root_cause_change_id=marks.culprit,
        culprit_kind=sc.culprit_kind,
        onset_ts=story.onset,
        onset_metric=story.graph.metric_names(story.root)[sc.onset_role],
        affected_services=story.affected,
        description=story.fmt(sc.description),
        service_onsets=story.service_onset,
        precursor_ts=story.precursor,
        mitigation_change_id=marks.mitigation,
        decoy_change_ids=marks.decoys,
        culprit_commit_shas=marks.culprit_commits,
        root_log_templates=[story.fmt(text) for _, text in sc.root_logs],
        dropped_sources=sorted(drop_sources),
        **({} if variation.is_default else {"variation": variation.describe()}),
    )
    # fields left unset (a default variation) stay out of the file: unperturbed bundles keep their bytes
    (out / GROUND_TRUTH).write_text(truth.model_dump_json(indent=2, exclude_unset=True) + "\n")
    return truth
