"""Remediation quality gate: specific, testable, assignable actions pass; vague or incomplete ones say why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import load_bundle, write_bundle
from postmortem.model import Action, GateVerdict
from tasks.gate import GATE_VERSION, REQUIRED_FIELDS, gate_actions

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
COMPLETE: dict[str, Any] = {
    "owner": "ann",
    "due": "2026-07-01",
    "type": "detect",
    "hypothesis": "Latency rose 6 minutes before the first page",
    "expected_impact": "Page within 2 minutes of the latency rise",
    "success_metric": "Time to detect latency incidents under 3 minutes",
    "rollback_plan": "Delete the alert rule",
}


def verdict(title: str, **fields: Any) -> GateVerdict:
    """The verdict on one action built from the complete fields with overrides."""
    return gate_actions([Action(title=title, **{**COMPLETE, **fields})], "INC-1", NOW)[0]


@pytest.mark.parametrize(
    "title",
    [
        "Add alert on checkout p99 > 800 ms for 5 min",
        "Improve cache hit rate to >= 95% measured daily",
        "Set a 2 s timeout and bounded retries on cart calls to payments",
        "Gate deploys on automated canary analysis of the 5xx rate",
        "Review the on-call runbook in 2 game days per quarter",
    ],
)
def test_specific_actions_pass(title: str) -> None:
    result = verdict(title)
    assert result.passed, result.reasons
    assert result.reasons == []


@pytest.mark.parametrize(
    ("title", "word"),
    [
        ("Investigate the outage", "investigate"),
        ("Improve monitoring", "improve"),
        ("Look into checkout timeouts", "look into"),
        ("We should review the deploy process", "review"),
        ("Ensure backups work", "ensure"),
        ("Consider sharding the orders table", "consider"),
        ("Try to reduce retries", "try to"),
        ("Be more careful with production changes", "be more careful"),
        ("Deploy in smaller batches and monitor better", "monitor better"),
        ("Investigate errors in v3.1.0 of INC-42", "investigate"),
    ],
)
def test_vague_titles_fail_naming_the_word(title: str, word: str) -> None:
    result = verdict(title)
    assert not result.passed
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith(f"field 'title' is vague: it is built on '{word}'")
    assert "measurable target" in result.reasons[0]


def test_a_vague_description_fails_but_a_target_in_it_rescues_the_title() -> None:
    vague = verdict("Checkout latency alerting", description="Look into better alerting")
    assert vague.reasons == [r for r in vague.reasons if r.startswith("field 'description' is vague")]
    assert len(vague.reasons) == 1
    assert verdict("Improve checkout latency", description="Bring p99 under 800 ms by July").passed


@pytest.mark.parametrize("field", list(REQUIRED_FIELDS))
def test_each_missing_field_is_named(field: str) -> None:
    result = verdict("Add alert on checkout p99 > 800 ms", **{field: None})
    assert not result.passed
    assert result.reasons == [f"field '{field}' is missing: say {REQUIRED_FIELDS[field]}"]


def test_blank_strings_count_as_missing() -> None:
    result = verdict("Add alert on checkout p99 > 800 ms", owner="  ")
    assert result.reasons == [f"field 'owner' is missing: say {REQUIRED_FIELDS['owner']}"]


def test_type_outside_the_taxonomy() -> None:
    result = verdict("Add alert on checkout p99 > 800 ms", type="fix")
    assert result.reasons == ["field 'type' is 'fix', not one of detect, mitigate, prevent, process"]


@pytest.mark.parametrize("due", [date(2026, 6, 1), date(2025, 1, 1)])
def test_due_date_must_be_in_the_future(due: date) -> None:
    result = verdict("Add alert on checkout p99 > 800 ms", due=due)
    assert result.reasons == [f"field 'due' is {due.isoformat()}, not in the future (today is 2026-06-01)"]
    assert verdict("Add alert on checkout p99 > 800 ms", due=date(2026, 6, 2)).passed


def test_success_metric_must_be_measurable() -> None:
    for metric in ("Fewer incidents", "Better monitoring", "The team feels confident"):
        result = verdict("Add alert on checkout p99 > 800 ms", success_metric=metric)
        assert result.reasons == [
            f"field 'success_metric' is not measurable: {metric!r} has no number, threshold or comparison "
            "and names no quantity (rate, count, duration, percentile ...)"
        ]
    for metric in (
        "Error rate below 1%",
        "Median time to detect",
        "Contract test runs on every pull request",
        "Minutes of checkout errors during the next provider outage",
    ):
        assert verdict("Add alert on checkout p99 > 800 ms", success_metric=metric).passed, metric


def test_fields_that_failed_to_parse_are_reported(tmp_path: Path) -> None:
    actions = [{"title": "Add alert on checkout p99 > 800 ms", **COMPLETE, "due": "next sprint"}]
    root = write_bundle(tmp_path / "b", {"id": "INC-1", "severity": "SEV3"}, actions=actions)
    bundle = load_bundle(root)
    [result] = gate_actions(bundle.actions, "INC-1", NOW)
    assert result.reasons == [f"field 'due' could not be parsed: 'next sprint' ({REQUIRED_FIELDS['due']})"]


def test_duplicates_are_flagged_on_the_later_action() -> None:
    titles = [
        "Add alert on checkout p99 > 800 ms",
        "add alert on checkout p99 > 800 ms.",
        "Add an alert on the checkout p99 > 800ms",
        "Add alert on checkout p99 > 900 ms",
        "Add alerts on checkout p99 > 800 ms",
    ]
    actions = [Action(title=t, **COMPLETE) for t in titles]
    results = gate_actions(actions, "INC-1", NOW)
    first = f"duplicate of '{titles[0]}'"
    assert [r.reasons for r in results] == [[], [first], [first], [], [first]]
    assert [r.passed for r in results] == [True, False, False, True, False]


def test_verdict_carries_identity_and_fields() -> None:
    action = Action(title="Add alert on checkout p99 > 800 ms", **COMPLETE)
    [result] = gate_actions([action], "INC-1", NOW)
    assert result.fingerprint == action.fingerprint("INC-1")
    assert (result.title, result.owner, result.due, result.type) == (
        action.title,
        "ann",
        date(2026, 7, 1),
        "detect",
    )
    assert GATE_VERSION == "1"


def test_every_rule_adds_its_own_reason() -> None:
    result = verdict("Investigate the outage", owner=None, type="misc", due=date(2026, 1, 1))
    fields = [r.split("'")[1] for r in result.reasons]
    assert fields == ["owner", "type", "due", "title"]
