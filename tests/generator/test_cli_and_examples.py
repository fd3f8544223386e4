"""`postmortem generate` and the shipped example bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.bundle import load_bundle
from connectors.bundle_format import DATASETS
from postmortem.cli import main as postmortem_main
from postmortem.generator.cli import main
from postmortem.generator.examples import EXAMPLES, EXAMPLES_DIR, make_examples

DATASET_FILES = [spec.file for spec in DATASETS.values()]


def test_generate_writes_the_bundle_and_prints_the_ground_truth_path(tmp_path: Path, capsys) -> None:
    out = tmp_path / "inc"
    argv = [str(out), "--scenario", "saturation", "--seed", "3", "--log-lines", "300", "--points", "40"]
    code = main([*argv, "--commits", "20", "--deploys", "10", "--metric-series", "12", "--drop", "chat"])
    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(out / "ground_truth.json")
    truth = json.loads(Path(printed).read_text())
    assert truth["scenario"] == "saturation" and truth["root_cause_change_id"] is None
    bundle = load_bundle(out)
    assert "chat.jsonl" in bundle.missing
    assert len(bundle.frames["logs"]) == 300
    assert len(bundle.frames["commits"]) == 20 and len(bundle.frames["deploys"]) == 10
    assert bundle.frames["metrics"].groupby(["service", "metric"]).ngroups == 12


def test_postmortem_cli_routes_generate(tmp_path: Path, capsys) -> None:
    out = tmp_path / "inc"
    assert postmortem_main(["generate", str(out), "--scenario", "bad_migration", "--log-lines", "50"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "ground_truth.json")
    assert load_bundle(out).incident.id


def test_generate_rejects_unknown_scenario_and_missing_out() -> None:
    with pytest.raises(SystemExit) as info:
        main(["/tmp/never", "--scenario", "meteor_strike"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_shipped_examples_regenerate_identically(tmp_path: Path) -> None:
    truths = make_examples(tmp_path)
    assert {ex.name for ex in EXAMPLES} == set(truths)
    for ex in EXAMPLES:
        shipped, fresh = EXAMPLES_DIR / ex.name, tmp_path / ex.name
        names = sorted(p.name for p in fresh.iterdir())
        assert names == sorted(p.name for p in shipped.iterdir()), ex.name
        for name in names:
            assert (shipped / name).read_bytes() == (fresh / name).read_bytes(), f"{ex.name}/{name}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda ex: ex.name)
def test_shipped_examples_are_small_and_full(example) -> None:
    path = EXAMPLES_DIR / example.name
    assert sum(p.stat().st_size for p in path.iterdir()) < 2 * 1024 * 1024
    bundle = load_bundle(path)
    assert bundle.missing == []
    for name, frame in bundle.frames.items():
        assert len(frame) >= 50, name
    assert len(bundle.actions) >= 4
    truth = json.loads((path / "ground_truth.json").read_text())
    assert truth["scenario"] == example.scenario


def test_demo_bundle_is_a_rolled_back_deploy() -> None:
    truth = json.loads((EXAMPLES_DIR / "bad-deploy-rollback" / "ground_truth.json").read_text())
    deploys = load_bundle(EXAMPLES_DIR / "bad-deploy-rollback").frames["deploys"].set_index("id")
    assert deploys.loc[truth["root_cause_change_id"], "status"] == "rolled_back"
    assert deploys.loc[truth["mitigation_change_id"], "kind"] == "rollback"
