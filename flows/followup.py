"""The daily `followup` flow (first version): list the open remediation tickets and the overdue ones.

It reads the local ticket tracker of the store; it does not sync, remind or escalate yet and says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from postmortem.settings import get_settings
from tasks import followup as fu


@flow(name="followup")
def followup(today: str | None = None) -> dict[str, Any]:
    """Open and overdue remediation tickets as of `today` (YYYY-MM-DD; default: the scheduled day, UTC)."""
    logger = get_run_logger()
    if today is None:
        day = (flow_run.scheduled_start_time or datetime.now(UTC)).astimezone(UTC).date()
    else:
        try:
            day = date.fromisoformat(today)
        except ValueError:
            raise ValueError(f"parameter 'today': {today!r} is not a date written YYYY-MM-DD") from None
    tickets = fu.read_open_tickets(get_settings().db_url, day)
    report = fu.followup_report(tickets, day)
    create_markdown_artifact(
        key=f"followup-{day.isoformat()}", markdown=fu.report_markdown(report), description=f"Follow-up {day}"
    )
    logger.info(
        "followup %s: %d open tickets, %d overdue; not done yet: %s",
        day,
        report["open"],
        report["overdue"],
        "; ".join(fu.NOT_YET),
    )
    return report
