"""The append-only, hash-chained audit log: appends, verification and tamper detection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError

from postmortem.model import AuditEntry
from postmortem.store import Store
from postmortem.store.audit import GENESIS_HASH, entry_hash, verify_chain
from tests.store.conftest import run_sql


def _unprotect(store: Store) -> str:
    """SQL that removes the append-only triggers, as an intruder with DDL rights would."""
    if store.url.get_backend_name() == "postgresql":
        return "ALTER TABLE audit_log DISABLE TRIGGER USER"
    return "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"


def _tamper(store: Store, *statements: str) -> None:
    run_sql(store, *_unprotect(store).split("; "), *statements)


def _fill(store: Store, n: int = 5) -> list[AuditEntry]:
    return [
        store.append_audit("flow", "ticket.created", f"INC-{i % 2}", {"key": f"PM-{i}", "n": i})
        for i in range(n)
    ]


def test_entries_chain_from_the_genesis_hash(store: Store) -> None:
    entries = _fill(store, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert store.audit_entries() == entries
    assert [e.seq for e in store.audit_entries(subject="INC-1")] == [2]
    result = store.verify_audit_log()
    assert (result.ok, result.entries, result.problems, result.head_hash) == (True, 3, [], entries[-1].hash)


def test_payloads_are_stored_as_hashed(store: Store) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    entry = store.append_audit("cli", "report.rendered", "INC-1", {"at": when, "big": 1e300, "list": (1, 2)})
    assert entry.payload == {"at": "2025-01-01T00:00:00Z", "big": 1e300, "list": [1, 2]}
    assert store.verify_audit_log().ok


def test_the_log_refuses_update_and_delete(store: Store) -> None:
    _fill(store, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        run_sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        run_sql(store, "DELETE FROM audit_log WHERE seq = 2")
    assert store.verify_audit_log().ok


def test_a_changed_row_is_named(store: Store) -> None:
    _fill(store)
    _tamper(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    result = store.verify_audit_log()
    assert not result.ok
    assert result.problems == ["seq 3: content changed (stored hash does not match the entry)"]


def test_a_deleted_row_is_reported(store: Store) -> None:
    _fill(store)
    _tamper(store, "DELETE FROM audit_log WHERE seq = 2")
    result = store.verify_audit_log()
    assert not result.ok and result.entries == 4
    assert "seq 2: missing (deleted) before seq 3" in result.problems
    assert "seq 3: broken link (follows an entry that is no longer in the log)" in result.problems


def test_a_deleted_first_row_is_reported(store: Store) -> None:
    _fill(store, 3)
    _tamper(store, "DELETE FROM audit_log WHERE seq = 1")
    problems = store.verify_audit_log().problems
    assert problems[0] == "seq 1: missing (deleted) before seq 2"


def test_reordered_rows_are_reported(store: Store) -> None:
    _fill(store, 4)
    _tamper(
        store,
        "UPDATE audit_log SET seq = 0 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 0",
    )
    problems = store.verify_audit_log().problems
    assert problems == [
        "seq 2: content changed (stored hash does not match the entry)",
        "seq 2: reordered (follows seq 3 instead of seq 1)",
        "seq 3: content changed (stored hash does not match the entry)",
        "seq 3: reordered (follows seq 1 instead of seq 2)",
        "seq 3: reordered (timestamp earlier than seq 2)",
        "seq 4: reordered (follows seq 2 instead of seq 3)",
    ]


def test_concurrent_appends_do_not_fork_the_chain(store: Store) -> None:
    barrier = threading.Barrier(6)

    def append(i: int) -> AuditEntry:
        barrier.wait()
        return store.append_audit(f"worker-{i}", "x", "INC-1", {"i": i})

    with ThreadPoolExecutor(6) as pool:
        entries = list(pool.map(append, range(6)))
    assert sorted(e.seq for e in entries) == [1, 2, 3, 4, 5, 6]
    result = store.verify_audit_log()
    assert result.ok and result.entries == 6


def test_verify_chain_catches_a_forged_but_rehashed_entry() -> None:
    ts = datetime(2025, 1, 1, tzinfo=UTC)
    first = AuditEntry(
        seq=1,
        ts=ts,
        actor="a",
        action="x",
        subject="s",
        prev_hash=GENESIS_HASH,
        hash=entry_hash(1, ts, "a", "x", "s", {}, GENESIS_HASH),
    )
    forged_prev = "f" * 64
    second = AuditEntry(
        seq=2,
        ts=ts,
        actor="m",
        action="x",
        subject="s",
        prev_hash=forged_prev,
        hash=entry_hash(2, ts, "m", "x", "s", {}, forged_prev),
    )
    result = verify_chain([first, second])
    assert result.problems == ["seq 2: broken link (follows an entry that is no longer in the log)"]
    assert verify_chain([]).ok


def test_entries_filter_by_time_range_and_action_in_order(store: Store) -> None:
    entries = [
        store.append_audit("flow", action, f"INC-{i}", {"n": i})
        for i, action in enumerate(["postmortem.completed", "ticket.created", "report.published"] * 3)
    ]
    since, until = entries[2].ts, entries[7].ts
    wanted = ("postmortem.completed", "report.published")
    got = store.audit_entries(since=since, until=until, actions=wanted)
    assert got == [e for e in entries if since <= e.ts < until and e.action in wanted]
    assert got and all(e.action in wanted for e in got)
    assert store.audit_entries(since=entries[-1].ts) == [e for e in entries if e.ts >= entries[-1].ts]
    assert store.audit_entries(until=entries[0].ts) == []
