"""The delivery store on SQLite and PostgreSQL: dedupe under concurrency, retry bookkeeping, durability."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from postmortem.webhook.deliveries import EMITTED, PENDING, DeliveryStore, event_id_for
from postmortem.webhook.payloads import Notice

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def notice(delivery_id: str, incident_id: str = "PGR0VU2") -> Notice:
    return Notice(
        source="pagerduty",
        delivery_id=delivery_id,
        event_type="incident.resolved",
        closes=True,
        reason="test",
        incident_source="pagerduty",
        incident_id=incident_id,
        title="A little bump",
    )


def test_accept_stores_once_per_delivery_key(store_url: str) -> None:
    store = DeliveryStore(store_url)
    try:
        first = store.accept(notice("E1"), {"event": {"id": "E1"}}, T0)
        assert first is not None and first.status == PENDING and first.attempts == 0
        assert first.event_id == event_id_for("pagerduty", "E1")
        assert store.accept(notice("E1", incident_id="OTHER"), {}, T0 + timedelta(seconds=1)) is None
        assert store.get("pagerduty", "E1").incident_id == "PGR0VU2"  # the first delivery wins
        assert store.accept(notice("E2"), {}, T0) is not None
        assert store.counts() == {PENDING: 2}
    finally:
        store.close()


def test_concurrent_redeliveries_store_exactly_one(store_url: str) -> None:
    store = DeliveryStore(store_url)
    barrier = threading.Barrier(8)

    def deliver(_: int) -> bool:
        barrier.wait()
        return store.accept(notice("RACE"), {"n": 1}, T0) is not None

    try:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(deliver, range(8)))
        assert outcomes.count(True) == 1
        assert store.counts() == {PENDING: 1}
    finally:
        store.close()


def test_failed_attempts_back_off_and_emitted_ones_leave_the_queue(store_url: str) -> None:
    store = DeliveryStore(store_url)
    try:
        a = store.accept(notice("A"), {}, T0)
        b = store.accept(notice("B"), {}, T0)
        assert a is not None and b is not None
        assert [d.delivery_id for d in store.due(T0, 10)] == ["A", "B"]
        store.mark_failed([a], "ConnectError: refused", [T0 + timedelta(seconds=30)])
        assert [d.delivery_id for d in store.due(T0 + timedelta(seconds=1), 10)] == ["B"]
        assert [d.delivery_id for d in store.due(None, 10)] == ["A", "B"]  # a restart retries everything
        failed = store.get("pagerduty", "A")
        assert (failed.attempts, failed.last_error, failed.status) == (1, "ConnectError: refused", PENDING)
        store.mark_emitted([a.id, b.id], T0 + timedelta(seconds=31))
        assert store.due(None, 10) == []
        done = store.get("pagerduty", "A")
        assert (done.status, done.attempts, done.last_error) == (EMITTED, 2, None)
        assert done.emitted_at == T0 + timedelta(seconds=31)
        store.mark_failed([done], "late failure", [T0])  # a stale failure report cannot reopen it
        assert store.get("pagerduty", "A").status == EMITTED
    finally:
        store.close()


def test_deliveries_survive_reopening_the_store(store_url: str) -> None:
    store = DeliveryStore(store_url)
    store.accept(notice("KEEP"), {"event": {"id": "KEEP"}}, T0)
    store.close()
    reopened = DeliveryStore(store_url)
    try:
        kept = reopened.due(None, 10)
        assert [(d.delivery_id, d.received_at, d.title) for d in kept] == [("KEEP", T0, "A little bump")]
    finally:
        reopened.close()


def test_a_row_that_fails_does_not_fail_the_others_committed_with_it(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = DeliveryStore(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER poison BEFORE INSERT ON webhook_deliveries WHEN NEW.delivery_id = 'POISON' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    engine.dispose()
    ids = [f"D{i}" for i in range(11)] + ["POISON"]
    barrier = threading.Barrier(len(ids))

    def deliver(delivery_id: str) -> str:
        barrier.wait()
        try:
            return "stored" if store.accept(notice(delivery_id), {}, T0) is not None else "duplicate"
        except Exception as exc:
            return type(exc).__name__

    try:
        with ThreadPoolExecutor(len(ids)) as pool:
            outcomes = dict(zip(ids, pool.map(deliver, ids), strict=True))
        assert outcomes.pop("POISON") == "IntegrityError"
        assert set(outcomes.values()) == {"stored"}
        assert store.counts() == {PENDING: 11}
    finally:
        store.close()


def test_commits_leave_checkpoints_to_the_dispatcher(tmp_path) -> None:
    import shutil
    import sqlite3

    db = tmp_path / "store.db"
    store = DeliveryStore(f"sqlite:///{db}")

    def rows_in_the_main_file() -> int:
        copy = tmp_path / "copy.db"  # the database file alone, without its WAL
        shutil.copyfile(db, copy)
        with sqlite3.connect(copy) as conn:
            return conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]

    try:
        for i in range(300):
            store.accept(notice(f"W{i}"), {"pad": "x" * 2000}, T0)
        assert rows_in_the_main_file() == 0  # no commit checkpointed on its own
        assert not store.checkpoint(after_commits=301)  # 300 commits so far: not yet
        assert rows_in_the_main_file() == 0
        assert store.checkpoint(after_commits=300)
        assert rows_in_the_main_file() == 300
        assert not store.checkpoint(after_commits=1)  # the count starts again
    finally:
        store.close()


@pytest.mark.parametrize(("mode", "pragma"), [("full", 2), ("normal", 1)])
def test_the_sqlite_sync_mode_is_applied_to_every_connection(tmp_path, mode: str, pragma: int) -> None:
    store = DeliveryStore(f"sqlite:///{tmp_path / 'store.db'}", mode)
    try:
        stored = store.accept(notice("S1"), {}, T0)
        store.mark_emitted([stored.id], T0)  # bookkeeping commits without a flush of their own...
        with store._engine.connect() as conn:  # ...and leave the connection as they found it
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        assert store.get("pagerduty", "S1").status == EMITTED
    finally:
        store.close()
    with pytest.raises(ValueError, match="'off'"):
        DeliveryStore(f"sqlite:///{tmp_path / 'other.db'}", "off")
