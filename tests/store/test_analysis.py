"""Incidents, raw payloads, quarantine and analysis results: reruns replace, never duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select

from postmortem.model import Quarantined, TimelineEvent
from postmortem.store import Store
from postmortem.store.tables import ChangeRow, EventRow
from tests.store.builders import T0, analysis, incident
from tests.store.conftest import count_rows

RESULT_TABLES = ("incidents", "events", "changes", "signals", "quality_results", "actions")


def _counts(store: Store) -> dict[str, int]:
    return {table: count_rows(store, table) for table in RESULT_TABLES}


def test_saving_the_same_analysis_twice_keeps_the_row_counts(store: Store) -> None:
    doc = analysis(events=40)
    store.save_analysis(doc)
    first = _counts(store)
    assert first == {
        "incidents": 1,
        "events": 40,
        "changes": 3,  # two candidates + one rejected
        "signals": 2 + 1 + 2 + 1,  # services, metrics, log patterns, similar incidents
        "quality_results": 2,
        "actions": 2,
    }
    store.save_analysis(doc)
    assert _counts(store) == first


def test_a_rerun_replaces_the_previous_results(store: Store) -> None:
    store.save_analysis(analysis(events=40, actions=("A", "B")))
    before = {v.fingerprint for v in store.actions("INC-1")}
    store.save_analysis(analysis(events=5, actions=("B", "C")))
    assert count_rows(store, "events") == 5
    assert [v.title for v in store.actions("INC-1")] == ["B", "C"]
    assert len(before & {v.fingerprint for v in store.actions("INC-1")}) == 1
    assert [e.summary for e in store.timeline("INC-1")] == [f"event {i}" for i in range(5)]


def test_analyses_of_two_incidents_do_not_touch_each_other(store: Store) -> None:
    store.save_analysis(analysis("INC-1", events=10))
    store.save_analysis(analysis("INC-2", events=3))
    store.save_analysis(analysis("INC-1", events=4))
    assert len(store.timeline("INC-1")) == 4
    assert len(store.timeline("INC-2")) == 3


def test_timestamps_come_back_as_aware_utc(store: Store) -> None:
    doc = analysis(events=1)
    paris = timezone(timedelta(hours=2))
    doc.timeline = [
        TimelineEvent(
            ts=datetime(2025, 3, 4, 12, 0, 0, 123456, tzinfo=paris), source="s", kind="k", summary="x"
        )
    ]
    store.save_analysis(doc)
    (event,) = store.timeline("INC-1")
    assert event.ts == datetime(2025, 3, 4, 10, 0, 0, 123456, tzinfo=UTC)
    assert event.ts.utcoffset() == timedelta(0)
    saved = store.get_incident("INC-1")
    assert saved is not None and saved.started_at == T0


def test_a_naive_timestamp_is_refused_and_nothing_is_half_saved(store: Store) -> None:
    doc = analysis(events=3)
    doc.timeline.append(TimelineEvent(ts=datetime(2025, 3, 4, 10, 0), source="s", kind="k", summary="naive"))
    with pytest.raises(Exception, match="naive datetime"):
        store.save_analysis(doc)
    assert store.get_incident("INC-1") is None
    assert count_rows(store, "events") == 0


def test_save_incident_upserts_and_keeps_vendor_fields(store: Store) -> None:
    store.save_incident(incident(resolution="rolled back"))
    changed = incident(resolution="rolled back")
    changed.title = "Renamed"
    store.save_incident(changed)
    saved = store.get_incident("INC-1")
    assert count_rows(store, "incidents") == 1
    assert saved is not None and saved.title == "Renamed"
    assert saved.model_extra == {"resolution": "rolled back"}


def test_raw_payloads_are_deduplicated_and_round_trip(store: Store) -> None:
    body = b'{"id": "INC-1", "events": [' + b"1," * 5000 + b"2]}"
    sha = store.save_raw_payload("INC-1", "pagerduty", "https://pd/incidents/1", body)
    assert store.save_raw_payload("INC-1", "pagerduty", "https://pd/incidents/1?again", body) == sha
    store.save_raw_payload("INC-1", "pagerduty", "https://pd/incidents/1", body + b" ")
    store.save_raw_payload("INC-2", "pagerduty", "https://pd/incidents/1", body)
    payloads = store.raw_payloads("INC-1")
    assert len(payloads) == 2
    assert payloads[0].sha256 == sha
    assert payloads[0].content == body and payloads[0].size == len(body)
    assert payloads[0].uri == "https://pd/incidents/1"
    assert count_rows(store, "raw_payloads") == 3
    assert store.raw_payloads("INC-1", source="github") == []


def test_quarantine_is_replaced_per_incident(store: Store) -> None:
    items = [
        Quarantined(file="logs.jsonl", line=3, field="ts", reason="outside window", record={"ts": "x"}),
        Quarantined(file="deploys.jsonl", line=None, field=None, reason="duplicate id"),
    ]
    store.save_quarantine("INC-1", items)
    store.save_quarantine("INC-1", items)
    store.save_quarantine("INC-2", items[:1])
    assert store.quarantine("INC-1") == items
    assert count_rows(store, "quarantine") == 3
    store.save_quarantine("INC-1", [])
    assert store.quarantine("INC-1") == []


def test_bulk_loaded_event_times_compare_like_orm_written_ones(store: Store) -> None:
    store.save_analysis(analysis(events=4))
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            seqs = conn.scalars(select(EventRow.seq).where(EventRow.ts >= T0 + timedelta(seconds=15))).all()
            change_ts = conn.scalar(select(ChangeRow.ts).where(ChangeRow.change_id == "dep-7"))
            events_after_change = conn.scalar(select(func.count()).where(EventRow.ts > change_ts))
    finally:
        engine.dispose()
    assert sorted(seqs) == [1, 2, 3]
    assert events_after_change == 4


def test_non_finite_numbers_in_documents_are_stored_as_null(store: Store) -> None:
    doc = analysis(events=1)
    doc.root_cause.changes[0].features = {"proximity": float("nan"), "size": float("inf"), "ok": 0.5}
    store.save_analysis(doc)
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            features = conn.scalar(select(ChangeRow.features).where(ChangeRow.change_id == "dep-7"))
    finally:
        engine.dispose()
    assert features == {"proximity": None, "size": None, "ok": 0.5}


def test_actions_of_several_incidents_match_each_incidents_actions(store: Store) -> None:
    store.save_analysis(analysis("INC-1", actions=("A", "B", "C")))
    store.save_analysis(analysis("INC-2", actions=("D",)))
    got = store.actions_of(["INC-2", "INC-none", "INC-1"])
    assert list(got) == ["INC-2", "INC-none", "INC-1"]
    assert got == {iid: store.actions(iid) for iid in ("INC-2", "INC-none", "INC-1")}
    assert [v.title for v in got["INC-1"]] == ["A", "B", "C"] and got["INC-none"] == []
