"""Cross-source checks: a shifted clock, early alerts, services without change data, telemetry holes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import load_bundle, write_bundle
from postmortem.cli import main
from postmortem.model import MetricCandidate, QualityResult
from tasks.clean import clean_frames
from tasks.quality import QualitySettings, build_policy, cross_source_checks
from tests.conftest import EXAMPLES
from tests.tasks.quality_data import INCIDENT, T0, at, series

SETTINGS = QualitySettings()
POLICY = build_policy(SETTINGS)
SERVICES = ["checkout", "cart", "payments", "search"]
Datasets = dict[str, list[dict[str, Any]]]


def onsets() -> list[MetricCandidate]:
    """Each service's error metric deviates k minutes after the impact start."""
    return [
        MetricCandidate(service=s, metric=f"{s}_errors", score=0.9, onset=T0 + timedelta(minutes=k))
        for k, s in enumerate(SERVICES)
    ]


def evidence() -> Datasets:
    """Four services whose sources agree: alerts 2 min after each onset, the pager 10 s later in chat,
    a deploy of each service an hour before with its bot post 30 s later and its new version's first
    log line 20 s later, and a metric series per service covering the incident."""
    alerts, chat, deploys, logs, metrics = [], [], [], [], []
    for k, s in enumerate(SERVICES):
        alerts.append(
            {
                "id": f"a{k}",
                "ts": at(k + 2),
                "name": "HighErrorRate",
                "service": s,
                "summary": f"{s}_errors above 5%",
            }
        )
        chat.append(
            {
                "ts": at(k + 2 + 10 / 60),
                "channel": "#inc",
                "user": "pagerduty",
                "text": f"triggered: HighErrorRate on {s}",
            }
        )
        deploys.append(
            {"id": f"dpl-00{k}abc", "ts": at(-60 + k), "service": s, "version": f"v1.{k}", "kind": "deploy"}
        )
        chat.append(
            {
                "ts": at(-60 + k + 0.5),
                "channel": "#deploys",
                "user": "bot",
                "text": f"deploy {s} (dpl-00{k}abc)",
            }
        )
        logs.append(
            {"ts": at(-90), "service": s, "level": "info", "message": "up", "attrs": {"version": "v0"}}
        )
        logs.append(
            {
                "ts": at(-60 + k + 1 / 3),
                "service": s,
                "level": "info",
                "message": "up",
                "attrs": {"version": f"v1.{k}"},
            }
        )
        logs.append(
            {"ts": at(30), "service": s, "level": "error", "message": "boom", "attrs": {"version": f"v1.{k}"}}
        )
        metrics += series(f"{s}_errors", -5, 65, service=s)
    return {"alerts": alerts, "chat": chat, "deploys": deploys, "logs": logs, "metrics": metrics}


def shift(name: str, minutes: float) -> Callable[[Datasets], None]:
    """A planted defect: every record of one source `minutes` late (negative: early)."""

    def apply(data: Datasets) -> None:
        for record in data[name]:
            record["ts"] = at((datetime.fromisoformat(record["ts"]) - T0).total_seconds() / 60 + minutes)

    return apply


def run(
    tmp_path: Path, defect: Callable[[Datasets], None] | None = None, **incident: Any
) -> dict[str, QualityResult]:
    """The cross-source results on the (cleaned) frames of a written bundle."""
    data = evidence()
    if defect is not None:
        defect(data)
    bundle = load_bundle(write_bundle(tmp_path, {**INCIDENT, "services": SERVICES, **incident}, data))
    frames, _ = clean_frames(bundle.frames, bundle.incident)
    results = cross_source_checks(frames, bundle.incident, onsets(), SETTINGS, POLICY)
    keyed = {r.check: r for r in results}
    assert len(keyed) == len(results) and {r.source for r in results} == {"cross_source"}
    return keyed


def failed(results: dict[str, QualityResult]) -> dict[str, int]:
    return {check: r.unexpected_count for check, r in results.items() if not r.success}


def test_sources_that_agree_pass_every_check(tmp_path: Path) -> None:
    results = run(tmp_path)
    assert failed(results) == {}
    for pair, n in (("metrics_alerts", 4), ("alerts_chat", 4), ("deploys_chat", 4), ("deploys_logs", 4)):
        result = results[f"clock_skew_{pair}"]
        assert result.severity == "critical" and result.details["element_count"] == n, pair
    assert results["clock_skew_metrics_alerts"].details["median_lag_s"] == 120.0
    assert results["clock_skew_deploys_logs"].details["median_lag_s"] == 20.0
    assert results["alert_before_metric"].details["element_count"] == 4


SKEWS = [
    ("chat early", shift("chat", -15), {"clock_skew_alerts_chat": 4, "clock_skew_deploys_chat": 4}, "chat"),
    ("logs early", shift("logs", -15), {"clock_skew_deploys_logs": 4}, "logs"),
    (
        "deploys late",
        shift("deploys", 15),
        {"clock_skew_deploys_chat": 4, "clock_skew_deploys_logs": 4},
        "deploys",
    ),
]


@pytest.mark.parametrize(("case", "defect", "expected", "suspect"), SKEWS, ids=[s[0] for s in SKEWS])
def test_a_shifted_clock_fails_its_pairs_and_names_the_source(
    case: str, defect: Callable[[Datasets], None], expected: dict[str, int], suspect: str, tmp_path: Path
) -> None:
    results = run(tmp_path, defect)
    assert failed(results) == expected
    for check in expected:
        details = results[check].details
        assert details["suspects"] == [suspect], check
        assert f"{suspect} clock looks shifted" in details["summary"]
        assert results[check].severity == "critical"
        assert details["examples"] and abs(details["examples"][0]["lag_s"]) > 600


def test_alerts_shifted_early_fire_before_their_metrics(tmp_path: Path) -> None:
    results = run(tmp_path, shift("alerts", -15))
    assert failed(results) == {
        "clock_skew_metrics_alerts": 4,
        "clock_skew_alerts_chat": 4,
        "alert_before_metric": 4,
    }
    for check in ("clock_skew_metrics_alerts", "clock_skew_alerts_chat"):  # alerts: common to both
        assert results[check].details["suspects"] == ["alerts"]
    assert results["alert_before_metric"].severity == "warn"


def test_one_early_alert_is_flagged_without_calling_it_a_skew(tmp_path: Path) -> None:
    def early(data: Datasets) -> None:
        data["alerts"][2]["ts"] = at(2 - 5)  # payments' alert 5 min before its metric moved (onset at 2)

    results = run(tmp_path, early)
    assert failed(results) == {"alert_before_metric": 1}
    (example,) = results["alert_before_metric"].details["examples"]
    assert example["service"] == "payments" and example["lag_s"] == -300.0 and example["effect_line"] == 3


def test_too_few_pairs_are_a_note_not_a_verdict(tmp_path: Path) -> None:
    def quiet(data: Datasets) -> None:
        data["chat"] = [m for m in data["chat"] if "triggered" not in m["text"] or "checkout" in m["text"]]

    results = run(tmp_path, quiet)
    note = results["clock_skew_alerts_chat"]
    assert note.success and note.severity == "info" and "1 matched pairs" in note.details["note"]


def test_an_impacted_service_without_change_data(tmp_path: Path) -> None:
    results = run(tmp_path, services=[*SERVICES, "ledger"])
    assert failed(results) == {"change_data_for_services": 1, "telemetry_during_incident": 1}
    assert results["change_data_for_services"].details["examples"] == [
        {"service": "ledger", "detail": "no deploy or commit record names this service"}
    ]
    (hole,) = results["telemetry_during_incident"].details["examples"]
    assert hole["service"] == "ledger" and hole["source"] == "metrics+logs"


def test_a_scrape_gap_during_the_incident(tmp_path: Path) -> None:
    def gap(data: Datasets) -> None:
        data["metrics"] = [
            m for m in data["metrics"] if not (m["service"] == "cart" and at(20) <= m["ts"] <= at(29))
        ]

    results = run(tmp_path, gap)
    assert failed(results) == {"telemetry_during_incident": 1}
    (hole,) = results["telemetry_during_incident"].details["examples"]
    assert (hole["service"], hole["metric"], hole["start"], hole["end"]) == (
        "cart",
        "cart_errors",
        at(19),
        at(30),
    )


def test_a_shifted_chat_in_an_example_puts_the_postmortem_under_review(tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "bad-deploy-rollback", bundle)
    lines = [json.loads(line) for line in (bundle / "chat.jsonl").read_text().splitlines()]
    for message in lines:
        ts = datetime.fromisoformat(message["ts"]) - timedelta(minutes=20)
        message["ts"] = ts.isoformat().replace("+00:00", "Z")
    (bundle / "chat.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    assert main(["analyze", str(bundle), "--json", "--no-history", "--now", "2026-12-01T00:00:00Z"]) == 0
    doc = json.loads(capsys.readouterr().out)
    skew = next(q for q in doc["data_quality"] if q["check"] == "clock_skew_deploys_chat")
    assert not skew["success"] and skew["severity"] == "critical"
    assert "chat" in skew["details"]["suspects"]
    assert (
        skew["unexpected_count"] >= 0.9 * skew["details"]["element_count"] > 50
    )  # the bot posts every change
    assert doc["review"]["needs_review"] is True
    assert any(
        "clock_skew_deploys_chat" in reason and "chat" in reason for reason in doc["review"]["reasons"]
    )
