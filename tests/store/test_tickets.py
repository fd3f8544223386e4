"""The local ticket tracker: one ticket per (incident, action), keys PREFIX-N, safe under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from postmortem.store import Store, TicketInfo
from tests.store.builders import verdict


def _race(store: Store, calls: list[tuple[str, str]]) -> list[tuple[TicketInfo, bool]]:
    """Run ensure_ticket calls at the same instant from as many threads."""
    barrier = threading.Barrier(len(calls))

    def call(args: tuple[str, str]) -> tuple[TicketInfo, bool]:
        incident_id, title = args
        barrier.wait()
        return store.ensure_ticket(incident_id, verdict(title, incident_id))

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(call, calls))


def test_ensure_ticket_is_idempotent(store: Store) -> None:
    first, created = store.ensure_ticket("INC-1", verdict("Add a canary"))
    again, created_again = store.ensure_ticket("INC-1", verdict("add a  CANARY"))  # same fingerprint
    other, _ = store.ensure_ticket("INC-1", verdict("Alert on pool usage"))
    elsewhere, _ = store.ensure_ticket("INC-2", verdict("Add a canary", "INC-2"))
    assert (created, created_again) == (True, False)
    assert first == again
    assert (first.key, other.key, elsewhere.key) == ("PM-1", "PM-2", "PM-3")
    assert first.status == "open" and first.title == "Add a canary" and first.created_at.tzinfo is not None
    assert [t.key for t in store.list_tickets("INC-1")] == ["PM-1", "PM-2"]
    assert len(store.list_tickets()) == 3


def test_prefixes_number_independently(store: Store) -> None:
    assert store.ensure_ticket("INC-1", verdict("A"), prefix="OPS")[0].key == "OPS-1"
    assert store.ensure_ticket("INC-1", verdict("B"))[0].key == "PM-1"
    assert store.ensure_ticket("INC-1", verdict("C"), prefix="OPS")[0].key == "OPS-2"


def test_racing_callers_for_one_action_get_one_ticket(store: Store) -> None:
    results = _race(store, [("INC-1", "Add a canary")] * 6)
    assert sum(created for _, created in results) == 1
    assert {ticket.key for ticket, _ in results} == {"PM-1"}
    assert len(store.list_tickets()) == 1


def test_racing_callers_for_different_actions_get_distinct_keys(store: Store) -> None:
    results = _race(store, [("INC-1", f"Action {i}") for i in range(6)])
    assert all(created for _, created in results)
    assert sorted(ticket.key for ticket, _ in results) == sorted(f"PM-{n}" for n in range(1, 7))


def test_ticket_status_is_recorded(store: Store) -> None:
    ticket, _ = store.ensure_ticket("INC-1", verdict("Add a canary"))
    updated = store.set_ticket_status(ticket.key, "done")
    assert updated.status == "done" and updated.updated_at >= ticket.updated_at
    assert store.list_tickets("INC-1")[0].status == "done"
