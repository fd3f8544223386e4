"""The view model: formatting, sections derived from the analysis, lessons learned and evidence caveats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postmortem.model import Gap, Moments, Onset, Quarantined, RootCause, SimilarIncident
from reports.formatting import badge, fmt_duration, fmt_number, fmt_time, label
from reports.markdown import md, md_code, md_link
from reports.view_model import build_view_model
from tests.reports import sample


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45.4, "45 s"),
        (870, "14 min 30 s"),
        (360, "6 min"),
        (4440, "1 h 14 min"),
        (3 * 86400 + 4 * 3600 + 61, "3 d 4 h 1 min"),
        (-90, "−1 min 30 s"),
        (None, "—"),
    ],
)
def test_durations_are_humanised(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_times_are_utc_and_naive_times_are_refused() -> None:
    assert (
        fmt_time(datetime(2026, 3, 2, 12, 4, 12, tzinfo=timezone(timedelta(hours=2))))
        == "2026-03-02 10:04:12 UTC"
    )
    assert fmt_time(None) == "—"
    with pytest.raises(ValueError, match="naive"):
        fmt_time(datetime(2026, 3, 2, 10, 0))


def test_labels_numbers_and_badges() -> None:
    assert label("error_budget_burned_pct") == "Error budget burned (%)"
    assert label("slo") == "SLO" and label("api_token") == "API token"
    assert fmt_number(12408) == "12,408" and fmt_number(41.5) == "41.5" and fmt_number(2.0) == "2"
    assert fmt_number(0.123456) == "0.12" and fmt_number(True) == "yes"
    assert badge("high") == {"level": "high", "label": "high confidence"}
    assert badge(None)["level"] == "unknown"


def test_markdown_filters_neutralise_markup() -> None:
    assert md("a | b\nc") == "a \\| b<br>c"
    assert md("<b>&") == "&lt;b&gt;&amp;"
    assert md("# title") == "\\# title" and md("1. item") == "1\\. item" and md("41.5") == "41.5"
    assert md_code("a `tick` | b") == "``a `tick` \\| b``"
    assert md_code("") == ""
    assert md("see [x](javascript:alert(1))") == "see [x]\\(javascript:alert(1))"
    assert md("[ref]: https://evil.example") == "\\[ref]: https://evil.example"
    assert md_link("[PM-1]", "https://t.example/a b(c)") == "[\\[PM-1\\]](https://t.example/a%20b%28c%29)"


def test_durations_carry_the_humanised_text_and_the_seconds() -> None:
    view = build_view_model(sample.analysis())
    ttd = view["impact"]["durations"][0]
    assert ttd == {
        "key": "time_to_detect",
        "name": "Time to detect",
        "human": "6 min",
        "seconds": "360",
        "text": "6 min (360 s)",
        "known": True,
    }
    assert (
        view["impact"]["window"]
        == "from 2026-03-02 10:00:00 UTC to 2026-03-02 10:31:00 UTC, 31 min (1,860 s)"
    )
    assert {"name": "Users affected", "value": "12,408"} in view["impact"]["fields"]
    assert {"name": "Regions", "value": "eu-west-1, eu-central-1"} in view["impact"]["fields"]


def test_root_causes_split_primary_contributory_and_rejected() -> None:
    rc = build_view_model(sample.analysis())["root_causes"]
    assert rc["primary"]["id"] == "dep-payments-2140" and rc["primary"]["score"] == "0.87"
    assert rc["primary"]["confidence"]["label"] == "high confidence"
    assert [c["id"] for c in rc["contributory"]] == ["cfg-77"]
    assert [r["service"] for r in rc["services"]] == ["payments", "checkout", "web"]
    assert [r["id"] for r in rc["rejected"]] == ["dep-search-812", "dep-payments-rb"]
    assert rc["evidence_requests"][0] == "no deploy data for service web"
    assert rc["rejected_more"] is None


def test_trigger_falls_back_to_the_onset_then_to_nothing() -> None:
    view = build_view_model(sample.analysis())
    assert view["trigger"]["kind"] == "change"
    assert "14 min 30 s before the onset of error_rate on payments" in view["trigger"]["text"]
    no_change = sample.analysis(root_cause=RootCause(metrics=sample.root_cause().metrics))
    trigger = build_view_model(no_change)["trigger"]
    assert trigger["kind"] == "onset"
    assert trigger["text"] == (
        "No change is implicated; the first sustained anomaly was error_rate on payments "
        "at 2026-03-02 10:00:30 UTC."
    )
    nothing = build_view_model(sample.analysis(root_cause=RootCause(), onset=Onset()))["trigger"]
    assert nothing["kind"] == "none" and nothing["rows"] == []


def test_detection_offsets_from_impact_start_and_detection_gaps() -> None:
    detection = build_view_model(sample.analysis())["detection"]
    assert [r["offset"] for r in detection["rows"]] == ["+0 s", "+30 s", "+4 min", "+6 min", "+8 min 30 s"]
    assert detection["alert_lag"] == "3 min 30 s (210 s)"
    assert [g["kind"] for g in detection["gaps"]] == ["Detection lag"]


def test_actions_match_tickets_by_fingerprint() -> None:
    actions = build_view_model(sample.analysis(), tickets=sample.tickets())["actions"]
    assert [a["ticket"] and a["ticket"]["key"] for a in actions] == ["PM-1", "PM-2", None]
    assert actions[0]["ticket"]["url"] == "https://tracker.example.com/PM-1"
    assert actions[1]["ticket"]["url"] is None
    assert actions[2]["gate"] == "✗ failed" and actions[2]["reasons"].startswith("missing owner; ")


def test_lessons_are_derived_from_the_analysis() -> None:
    lessons = build_view_model(sample.analysis())["lessons"]
    assert "Fast acknowledgement: time to acknowledge was 2 min 30 s." in lessons["went_well"]
    assert any(
        line.startswith("A rollback was used: rollback dep-payments-rb") for line in lessons["went_well"]
    )
    assert "Evidence was missing from: traces." in lessons["went_wrong"]
    assert (
        "Gaps in the evidence or the response: 1 × detection lag, 1 × silent period (see Evidence caveats)."
        in lessons["went_wrong"]
    )
    assert "1 of 3 proposed actions failed the remediation gate." in lessons["went_wrong"]
    assert "The error budget was not exhausted (41.5% burned)." in lessons["lucky"]


def test_only_missing_source_gaps_count_as_missing_evidence() -> None:
    gaps = [
        Gap(kind="missing_runbook", detail="alert X fired without a runbook", source="alerts"),
        Gap(kind="missing_source", detail="chat.jsonl is absent", source="chat"),
    ]
    went_wrong = build_view_model(sample.analysis(gaps=gaps))["lessons"]["went_wrong"]
    assert "Evidence was missing from: chat." in went_wrong
    assert "Gaps in the evidence or the response: 1 × missing runbook (see Evidence caveats)." in went_wrong


def test_late_alert_and_mitigation_without_rollback() -> None:
    rc = sample.root_cause()
    no_rollback = rc.model_copy(update={"rejected_changes": rc.rejected_changes[:1]})
    moments = Moments(
        impact_start=sample.at(0),
        first_anomaly=sample.at(0),
        first_alert=sample.at(20),
        mitigation=sample.at(31),
    )
    timeline = [e for e in sample.timeline() if e.kind != "rollback"]
    lessons = build_view_model(sample.analysis(moments=moments, root_cause=no_rollback, timeline=timeline))[
        "lessons"
    ]
    assert "Late alert: the first alert fired 20 min after the first anomaly." in lessons["went_wrong"]
    assert not any(line.startswith("Alerting fired") for line in lessons["went_well"])
    assert not any("rollback was used" in line for line in lessons["went_well"])
    assert "Impact was mitigated at 2026-03-02 10:31:00 UTC without a recorded rollback." in lessons["lucky"]


def test_caveats_list_failures_quarantine_groups_and_gaps() -> None:
    quarantine = [
        Quarantined(file="metrics.csv", line=3, field="value", reason="value 'x' is not numeric"),
        *[
            Quarantined(file="logs.jsonl", line=i, field="level", reason=f"unknown level {i}")
            for i in range(5)
        ],
    ]
    caveats = build_view_model(sample.analysis(quarantine=quarantine))["caveats"]
    assert [(f["source"], f["check"], f["unexpected"]) for f in caveats["failures"]] == [
        ("logs", "level_in_set", "17"),
        ("metrics", "one_value_per_ts", "4"),
    ]
    assert caveats["failures"][0]["examples"] == 'line 12: "VERBOSE"; line 40: "chatty"'
    assert caveats["quarantine_total"] == "6"
    assert [(q["file"], q["count"]) for q in caveats["quarantine"]] == [
        ("logs.jsonl", "5"),
        ("metrics.csv", "1"),
    ]
    assert caveats["quarantine"][0]["examples"].count("line") == 3
    assert [g["kind"] for g in caveats["gaps"]] == ["Missing source", "Silent period", "Detection lag"]


def test_similar_incidents_are_merged_once_by_id() -> None:
    extra = [SimilarIncident(id="INC-2025-1107", score=0.1), SimilarIncident(id="INC-2024-0001", score=0.4)]
    similar = build_view_model(sample.analysis(similar_incidents=extra))["similar"]
    assert [(s["id"], s["score"]) for s in similar] == [("INC-2025-1107", "0.72"), ("INC-2024-0001", "0.40")]


def test_the_view_model_depends_on_the_clock_only_through_its_arguments() -> None:
    a = build_view_model(sample.analysis())
    b = build_view_model(sample.analysis(), version=2, generated_at=datetime(2026, 3, 5, tzinfo=UTC))
    assert a["meta"]["version"] is None and a["meta"]["generated_at"] is None
    assert b["meta"]["version"] == "v2" and b["meta"]["generated_at"] == "2026-03-05 00:00:00 UTC"
    assert {k: v for k, v in a.items() if k != "meta"} == {k: v for k, v in b.items() if k != "meta"}
