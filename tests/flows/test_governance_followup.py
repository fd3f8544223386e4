"""The monthly governance and daily follow-up flows: their pure parts, and runs on threads and on Dask."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from postmortem.model import (
    AuditEntry,
    GateVerdict,
)
from postmortem.settings import get_settings
from postmortem.store import open_store
from postmortem.store.records import TicketInfo
from tasks import followup as fu
from tasks import governance as gov
from tests.store.builders import gate_analysis

NOW = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month", "now", "label", "start", "end"),
    [
        (None, NOW, "2025-12", datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (None, datetime(2026, 3, 31, 23, tzinfo=UTC), "2026-02", datetime(2026, 2, 1, tzinfo=UTC), None),
        ("2026-05", NOW, "2026-05", datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-12", NOW, "2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_month_period(month, now, label, start, end) -> None:
    period = gov.month_period(month, now)
    assert (period.label, period.start) == (label, start)
    assert period.end == (end or datetime(2026, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["2026-13", "2026-5", "May 2026", ""])
def test_month_period_names_the_parameter(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"parameter 'month': '{bad}' is not a month written YYYY-MM"):
        gov.month_period(bad, NOW)


def _entry(seq: int, ts: datetime, action: str, subject: str) -> AuditEntry:
    return AuditEntry(seq=seq, ts=ts, actor="t", action=action, subject=subject, prev_hash="", hash=str(seq))


def test_month_activity_counts_incidents_runs_and_reports_inside_the_month() -> None:
    period = gov.month_period("2025-12", NOW)
    entries = [
        _entry(1, datetime(2025, 11, 30, 23, 59, tzinfo=UTC), gov.COMPLETED, "INC-0"),
        _entry(2, datetime(2025, 12, 1, tzinfo=UTC), gov.COMPLETED, "INC-1"),
        _entry(3, datetime(2025, 12, 1, tzinfo=UTC), gov.PUBLISHED, "INC-1"),
        _entry(4, datetime(2025, 12, 9, tzinfo=UTC), gov.COMPLETED, "INC-2"),
        _entry(5, datetime(2025, 12, 20, tzinfo=UTC), gov.COMPLETED, "INC-1"),
        _entry(6, datetime(2026, 1, 1, tzinfo=UTC), gov.COMPLETED, "INC-3"),
    ]
    activity = gov.month_activity(entries, period)
    assert activity.incidents == ["INC-1", "INC-2"] and activity.runs == 3 and activity.reports_published == 1


def _verdict(title: str, passed: bool, reasons: list[str] | None = None, **extra) -> GateVerdict:
    return GateVerdict(title=title, fingerprint=title.lower(), passed=passed, reasons=reasons or [], **extra)


def test_gate_stats_and_their_sum() -> None:
    a = gov.gate_stats(
        [
            [
                _verdict("A", True),
                _verdict("B", False, ["field 'owner' is missing: say who", "vague: 'improve'"]),
            ],
            [],
        ]
    )
    b = gov.gate_stats([[_verdict("C", False, ["field 'owner' is missing: say who"])]])
    total = a + b
    assert (total.incidents, total.incidents_with_actions, total.actions, total.passed) == (3, 2, 3, 1)
    assert total.pass_rate == pytest.approx(1 / 3)
    assert total.reasons == {"field 'owner' is missing": 2, "vague": 1}
    assert gov.GateStats().pass_rate is None
    assert gov.chunked(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    with pytest.raises(ValueError, match="chunk_size"):
        gov.chunked(["a"], 0)


def _ticket(key: str, iid: str, fingerprint: str, status: str = "open") -> TicketInfo:
    return TicketInfo(
        key=key,
        incident_id=iid,
        fingerprint=fingerprint,
        title=f"T {key}",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def test_open_tickets_with_owner_and_overdue_days() -> None:
    today = date(2026, 1, 10)
    verdicts = {
        "INC-1": [
            _verdict("a", True, owner="ana", due=date(2026, 1, 1)),
            _verdict("b", True, owner="bo", due=date(2026, 2, 1)),
        ],
        "INC-2": [_verdict("c", True, owner="cy", due=date(2026, 1, 8))],
    }
    tickets = [
        _ticket("PM-1", "INC-1", "a"),
        _ticket("PM-2", "INC-1", "b"),
        _ticket("PM-3", "INC-2", "c"),
        _ticket("PM-4", "INC-2", "gone"),
        _ticket("PM-5", "INC-1", "a", status="Done"),
    ]
    found = fu.open_tickets(tickets, verdicts, today)
    assert [(t.key, t.days_overdue, t.owner) for t in found] == [
        ("PM-1", 9, "ana"),
        ("PM-3", 2, "cy"),
        ("PM-2", None, "bo"),
        ("PM-4", None, None),
    ]
    report = fu.followup_report(found, today)
    assert (report["open"], report["overdue"], report["without_due_date"]) == (4, 2, 1)
    assert [t["key"] for t in report["overdue_tickets"]] == ["PM-1", "PM-3"]
    assert "| PM-1 | INC-1 | ana | 2026-01-01 | 9 |" in fu.report_markdown(report)


# ---------------------------------------------------------------- flows against the Prefect test server


def _seed(n_incidents: int) -> dict[str, object]:
    """Incidents with 3 actions each (2 pass), all completed this month; one more from no run at all."""
    with open_store(get_settings().db_url) as store:
        for i in range(n_incidents):
            iid = f"INC-{i}"
            verdicts = [
                _verdict(f"{iid}-ok-1", True),
                _verdict(f"{iid}-ok-2", True),
                _verdict(f"{iid}-bad", False, ["field 'due' is missing: say when"]),
            ]
            store.save_analysis(gate_analysis(iid, verdicts, NOW))
            store.append_audit("test", gov.COMPLETED, iid, {})
        store.save_analysis(gate_analysis("INC-untouched", [_verdict("x", False, ["vague: 'fix'"])], NOW))
    return {"postmortems": n_incidents, "actions": 3 * n_incidents, "actions_passed": 2 * n_incidents}


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def test_governance_flow_on_threads(prefect_harness, data_dir: Path) -> None:
    from flows.governance import governance

    expected = _seed(3)
    report = governance(month=_this_month(), chunk_size=2)
    assert {k: report[k] for k in expected} == expected
    assert report["gate_pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["top_gate_failures"] == {"field 'due' is missing": 3}
    assert report["not_measured_yet"]  # says what it does not do
    assert governance(month="2000-01")["postmortems"] == 0
    assert (
        governance()["month"] == gov.month_period(None, datetime.now(UTC)).label
    )  # the month before the run


def test_governance_fans_out_on_a_local_dask_cluster(prefect_harness, data_dir: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="needs the `dask` extra (prefect-dask)")
    from flows.governance import governance

    expected = _seed(5)
    with distributed.LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        report = governance(month=_this_month(), dask_address=cluster.scheduler_address, chunk_size=2)
        ran = {name: sum(p.states.values()) for name, p in cluster.scheduler.task_prefixes.items()}
    assert {k: report[k] for k in expected} == expected
    assert report["gate_pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert "audit_chunk" in ran, f"no audit_chunk task reached the Dask scheduler: {ran}"


def test_followup_flow_lists_open_and_overdue_tickets(prefect_harness, data_dir: Path) -> None:
    from flows.followup import followup

    with open_store(get_settings().db_url) as store:
        late = _verdict("late", True, owner="ana", due=date(2026, 1, 2))
        fine = _verdict("fine", True, owner="bo", due=date(2026, 3, 1))
        store.save_analysis(gate_analysis("INC-9", [late, fine], NOW))
        first, _ = store.ensure_ticket("INC-9", late)
        store.ensure_ticket("INC-9", fine)
    report = followup(today="2026-01-05")
    assert (report["open"], report["overdue"]) == (2, 1)
    assert (
        report["overdue_tickets"][0]["key"] == first.key and report["overdue_tickets"][0]["days_overdue"] == 3
    )
    with open_store(get_settings().db_url) as store:
        store.set_ticket_status(first.key, "done")
    assert followup(today="2026-01-05")["open"] == 1
    assert followup()["date"] == datetime.now(UTC).date().isoformat()
    with pytest.raises(ValueError, match="parameter 'today'"):
        followup(today="05/01/2026")
