"""Emission to a real Prefect server (the session's test harness): confirmed events, retries, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from anyio import to_thread
from prefect.events import Event
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from postmortem.webhook.deliveries import EMITTED, PENDING
from postmortem.webhook.emit import EVENT_NAME, PrefectEmitter
from tests.webhook.conftest import Receiver
from tests.webhook.vendor import pagerduty_event, pagerduty_request


def watch_events(
    resource_id: str, action: Callable[[], Any], expect: int = 1, settle: float = 1.0
) -> list[Event]:
    """Run `action` while subscribed to the server's live event stream; the `incident.closed` events of
    `resource_id` seen until `expect` arrived plus `settle` seconds (or 20 s)."""

    async def watch() -> list[Event]:
        seen: list[Event] = []
        wanted = EventFilter(
            event=EventNameFilter(name=[EVENT_NAME]), resource=EventResourceFilter(id=[resource_id])
        )
        async with get_events_subscriber(filter=wanted) as subscriber:

            async def consume() -> None:
                async for event in subscriber:
                    seen.append(event)

            task = asyncio.create_task(consume())
            await to_thread.run_sync(action)
            deadline = time.monotonic() + 20
            while len(seen) < expect and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(settle)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return seen

    return asyncio.run(watch())


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def dead_api_url() -> str:
    """The API URL of a loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.fixture
def unique_incident() -> str:
    return f"P{time.time_ns() % 10**10}"


def test_an_accepted_delivery_becomes_one_confirmed_incident_closed_event(
    prefect_harness: None, receiver: Receiver, unique_incident: str
) -> None:
    running = receiver(emitter=PrefectEmitter())
    document = pagerduty_event(incident_id=unique_incident)
    body, headers = pagerduty_request(document)
    answers = []

    def deliver_twice() -> None:
        answers.append(running.post("pagerduty", body, headers))
        wait_for(lambda: running.store.get("pagerduty", document["event"]["id"]).status == EMITTED)
        answers.append(running.post("pagerduty", body, headers))

    events = watch_events(f"incident.pagerduty.{unique_incident}", deliver_twice)
    assert [a.status_code for a in answers] == [202, 200]
    assert len(events) == 1  # the redelivery emitted nothing
    event = events[0]
    assert str(event.id) == answers[0].json()["event_id"]
    assert event.resource["incident.id"] == unique_incident
    assert event.resource["incident.source"] == "pagerduty"
    assert event.resource.name == "A little bump in the road"
    assert event.payload["incident_id"] == unique_incident
    assert event.payload["delivery_id"] == document["event"]["id"]


def test_a_failed_emission_stays_pending_and_is_re_emitted_after_a_restart(
    prefect_harness: None, receiver: Receiver, unique_incident: str
) -> None:
    down = receiver(emitter=PrefectEmitter(api_url=dead_api_url()))
    document = pagerduty_event(incident_id=unique_incident)
    assert down.post("pagerduty", *pagerduty_request(document)).status_code == 202
    key = ("pagerduty", document["event"]["id"])
    wait_for(lambda: down.store.get(*key).attempts >= 1)
    failed = down.store.get(*key)
    assert failed.status == PENDING and "ConnectError" in (failed.last_error or "")
    assert failed.next_attempt_at > failed.received_at  # backed off
    down.stop()  # the receiver crashes or is redeployed with the delivery still pending

    restarted: list[Any] = []
    events = watch_events(
        f"incident.pagerduty.{unique_incident}", lambda: restarted.append(receiver(emitter=PrefectEmitter()))
    )
    assert [str(e.id) for e in events] == [str(failed.event_id)]
    wait_for(lambda: restarted[0].store.get(*key).status == EMITTED)


def test_the_emitter_refuses_to_start_without_an_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(ValueError, match="PREFECT_API_URL"),
    ):
        PrefectEmitter()
