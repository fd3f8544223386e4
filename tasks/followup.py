"""The daily remediation follow-up, first version: the open local tickets and the overdue ones.

A ticket is open until its status is one of CLOSED_STATUSES; it is overdue when the due date of its
action (from the quality-gate verdict stored with the incident) has passed. What it does not do yet:
sync status from external trackers, remind owners, escalate stalled items, honour deferrals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from postmortem.model import GateVerdict
from postmortem.store import open_store
from postmortem.store.records import TicketInfo

CLOSED_STATUSES = frozenset({"done", "closed", "resolved", "cancelled", "canceled", "wontfix"})
NOT_YET = ("sync with external trackers", "reminders to owners", "escalation of stalled items", "deferrals")


@dataclass(frozen=True)
class OpenTicket:
    """An open remediation ticket with its owner and due date (None when the action has none)."""

    key: str
    incident_id: str
    title: str
    status: str
    owner: str | None
    due: date | None
    days_overdue: int | None


def open_tickets(
    tickets: Sequence[TicketInfo], verdicts: Mapping[str, Sequence[GateVerdict]], today: date
) -> list[OpenTicket]:
    """Open tickets, most overdue first then by key; owner and due date from the action's verdict."""
    by_fingerprint = {(iid, v.fingerprint): v for iid, vs in verdicts.items() for v in vs}
    found = []
    for t in tickets:
        if t.status.lower() in CLOSED_STATUSES:
            continue
        verdict = by_fingerprint.get((t.incident_id, t.fingerprint))
        due = verdict.due if verdict is not None else None
        late = (today - due).days if due is not None and due < today else None
        owner = verdict.owner if verdict is not None else None
        found.append(OpenTicket(t.key, t.incident_id, t.title, t.status, owner, due, late))
    return sorted(found, key=lambda o: (-(o.days_overdue or 0), o.key))


def followup_report(tickets: Sequence[OpenTicket], today: date) -> dict[str, object]:
    """The JSON-safe summary: counts, the overdue tickets, and what is not done yet."""
    overdue = [t for t in tickets if t.days_overdue]
    return {
        "date": today.isoformat(),
        "open": len(tickets),
        "overdue": len(overdue),
        "without_due_date": sum(t.due is None for t in tickets),
        "overdue_tickets": [{**asdict(t), "due": t.due.isoformat() if t.due else None} for t in overdue],
        "not_done_yet": list(NOT_YET),
    }


def report_markdown(report: dict[str, object]) -> str:
    """The summary as a short markdown artifact."""
    lines = [
        f"# Remediation follow-up {report['date']}",
        "",
        f"- open tickets: {report['open']} ({report['without_due_date']} without a due date)",
        f"- overdue: {report['overdue']}",
    ]
    overdue = report["overdue_tickets"]
    if isinstance(overdue, list) and overdue:
        lines += [
            "",
            "| ticket | incident | owner | due | days overdue | title |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t['key']} | {t['incident_id']} | {t['owner'] or '-'} | {t['due']} | {t['days_overdue']} | "
            f"{t['title']} |"
            for t in overdue
        ]
    lines += ["", "Not done yet: " + "; ".join(NOT_YET) + "."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Prefect task (thin)


@task(name="read-open-tickets", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def read_open_tickets(db_url: str, today: date) -> list[OpenTicket]:
    """Open tickets of the local tracker with their actions' owners and due dates."""
    with open_store(db_url) as store:
        tickets = store.list_tickets()
        incidents = sorted({t.incident_id for t in tickets if t.status.lower() not in CLOSED_STATUSES})
        verdicts = {iid: store.actions(iid) for iid in incidents}
    return open_tickets(tickets, verdicts, today)
