"""Variations of generated incidents for the root-cause harness: each knob does what it says, and no more."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from connectors.bundle import load_bundle
from postmortem.generator import GROUND_TRUTH, Variation, generate_incident
from postmortem.generator.variation import NO_VARIATION
from postmortem.model import Onset, ServiceCandidate
from tasks.changes import LINKED_REVERSAL_LR, correlate_changes
from tasks.clean import clean_frames

SMALL = {"log_lines": 60, "points_per_series": 40}


def _generate(path: Path, scenario: str, variation: Variation = NO_VARIATION, seed: int = 11):
    truth = generate_incident(path, scenario, seed=seed, variation=variation, **SMALL)
    return truth, load_bundle(path)


def test_the_default_variation_changes_nothing(tmp_path: Path) -> None:
    assert Variation().is_default and Variation().describe() == {}
    generate_incident(tmp_path / "a", "bad_deploy", seed=4, **SMALL)
    generate_incident(tmp_path / "b", "bad_deploy", seed=4, variation=Variation(), **SMALL)
    for file in sorted((tmp_path / "a").iterdir()):
        assert file.read_bytes() == (tmp_path / "b" / file.name).read_bytes(), file.name
    assert "variation" not in json.loads((tmp_path / "a" / GROUND_TRUTH).read_text())


def test_extra_decoys_land_near_the_onset_off_the_root_in_production(tmp_path: Path) -> None:
    plain, _ = _generate(tmp_path / "a", "config_change")
    truth, bundle = _generate(tmp_path / "b", "config_change", Variation(extra_decoys=3))
    assert len(truth.decoy_change_ids) == len(plain.decoy_change_ids) + 3
    deploys = bundle.frames["deploys"].set_index("id")
    extra = deploys.loc[truth.decoy_change_ids[-3:]]
    gap = (extra["ts"] - truth.onset_ts).dt.total_seconds() / 60
    assert ((gap >= -46) & (gap <= 11)).all()
    on_root = extra["service"] == truth.root_service
    assert (extra.loc[on_root, "environment"] == "staging").all()
    assert json.loads((bundle.path / GROUND_TRUTH).read_text())["variation"] == {"extra_decoys": 3}


def test_culprit_lead_moves_the_culprit_and_the_story_text(tmp_path: Path) -> None:
    truth, bundle = _generate(tmp_path / "a", "bad_deploy", Variation(culprit_lead_min=(90.0, 100.0)))
    deploys = bundle.frames["deploys"].set_index("id")
    lead = (truth.onset_ts - deploys.loc[truth.root_cause_change_id, "ts"]).total_seconds() / 60
    assert 90 <= lead <= 100
    assert f"{round(lead)} minutes after" in bundle.incident.summary


def test_clock_skew_shifts_every_change_record_and_nothing_else(tmp_path: Path) -> None:
    plain, before = _generate(tmp_path / "a", "feature_flag")
    skewed, after = _generate(tmp_path / "b", "feature_flag", Variation(change_clock_skew_s=150))
    shift = after.frames["deploys"]["ts"] - before.frames["deploys"]["ts"]
    assert (shift == pd.Timedelta(seconds=150)).all()
    assert after.frames["commits"]["ts"].equals(before.frames["commits"]["ts"])
    assert skewed.onset_ts == plain.onset_ts


def test_root_changes_dropped_and_mitigation_missing(tmp_path: Path) -> None:
    truth, bundle = _generate(tmp_path / "a", "bad_deploy", Variation(drop_root_changes=True))
    deploys, commits = bundle.frames["deploys"], bundle.frames["commits"]
    assert not (deploys["service"] == truth.root_service).any()
    assert set(truth.culprit_commit_shas) <= set(commits["sha"])
    truth, bundle = _generate(tmp_path / "b", "config_change", Variation(mitigation_record="missing"))
    assert truth.mitigation_change_id not in set(bundle.frames["deploys"]["id"])
    assert truth.root_cause_change_id in set(bundle.frames["deploys"]["id"])


@pytest.mark.parametrize("seed", [11, 12])
def test_a_rollback_recorded_as_a_plain_deploy_is_still_recognised(tmp_path: Path, seed: int) -> None:
    variation = Variation(mitigation_record="deploy", culprit_status="succeeded")
    truth, bundle = _generate(tmp_path / "a", "bad_deploy", variation, seed=seed)
    deploys = bundle.frames["deploys"].set_index("id")
    assert deploys.loc[truth.mitigation_change_id, "kind"] == "deploy"
    assert deploys.loc[truth.root_cause_change_id, "status"] == "succeeded"
    frames, _ = clean_frames(bundle.frames, bundle.incident)
    result = correlate_changes(
        frames["deploys"],
        frames["commits"],
        bundle.incident,
        Onset(ts=truth.onset_ts, service=truth.root_service),
        [ServiceCandidate(service=truth.root_service, score=0.9)],
        bundle.topology,
    )
    culprit = next(c for c in result.changes if c.id == truth.root_cause_change_id)
    assert culprit.features["reversal_lr"] == LINKED_REVERSAL_LR
    assert any("an unmarked rollback" in e for e in culprit.evidence)


def test_fix_forward_mitigation_is_a_new_release_of_the_root(tmp_path: Path) -> None:
    truth, bundle = _generate(tmp_path / "a", "feature_flag", Variation(mitigation_record="fix_forward"))
    record = bundle.frames["deploys"].set_index("id").loc[truth.mitigation_change_id]
    assert (record["kind"], record["service"]) == ("deploy", truth.root_service)
