"""Emission of stored deliveries as the Prefect event `incident.closed`, with retries until confirmed.

`prefect.events.emit_event` hands an event to a background worker and returns before it is sent (a
failure is only logged), so it cannot tell when a delivery may be marked emitted. The dispatcher sends
the same `Event` objects in batches to `POST /api/events` with Prefect's own client; the 2xx answer is
the confirmation. Event ids derive from the delivery key, so the server drops a repeat that a crash
between its confirmation and our commit would cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from anyio import to_thread
from prefect.client.orchestration import PrefectClient
from prefect.context import SettingsContext, get_settings_context
from prefect.events import Event
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_KEY,
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
)

from postmortem.webhook.deliveries import Delivery, DeliveryStore, utcnow

EVENT_NAME = "incident.closed"
CHECKPOINT_AFTER_COMMITS = 500  # SQLite's own default is a WAL of 1000 pages; a delivery is about one
logger = logging.getLogger("postmortem.webhook")


def resource_id(incident_source: str, incident_id: str) -> str:
    """The Prefect resource id of an incident: `incident.<source>.<id>`."""
    return f"incident.{incident_source}.{incident_id}"


def event_for(delivery: Delivery) -> Event:
    """The `incident.closed` event of a delivery; the incident id is a resource label and in the payload."""
    resource = {
        "prefect.resource.id": resource_id(delivery.incident_source, delivery.incident_id),
        "prefect.resource.name": (delivery.title or delivery.incident_id)[:200],
        "incident.id": delivery.incident_id,
        "incident.source": delivery.incident_source,
    }
    return Event(
        id=delivery.event_id,
        occurred=delivery.received_at,
        event=EVENT_NAME,
        resource=resource,
        payload={
            "incident_id": delivery.incident_id,
            "source": delivery.incident_source,
            "webhook": delivery.source,
            "delivery_id": delivery.delivery_id,
            "event_type": delivery.event_type,
            "reason": f"{delivery.source} webhook {delivery.event_type}",
        },
    )


class Emitter(Protocol):
    """Sends events and returns only once the receiving end confirmed them (raises otherwise)."""

    async def emit(self, events: Sequence[Event]) -> None:
        """Send `events`; raise on any failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class PrefectEmitter:
    """Posts events to a Prefect server's `/api/events`; refuses to start without an explicit API URL."""

    def __init__(self, api_url: str | None = None, timeout: float = 10.0) -> None:
        """Target `api_url`, else PREFECT_API_URL (never Prefect's throwaway ephemeral server)."""
        url = api_url or PREFECT_API_URL.value()
        if not url:
            raise ValueError("PREFECT_API_URL is not set: the receiver must emit to a running Prefect server")
        self.api_url = url
        self._timeout = timeout
        self._client: PrefectClient | None = None
        # fail fast: the dispatcher retries with its own backoff and logs each failure, where the
        # client's own retries (a minute of back-off on a slow server) would stall it silently
        current = get_settings_context()
        self._profile = current.profile
        self._no_retries = current.settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})

    async def emit(self, events: Sequence[Event]) -> None:
        """POST the batch on a kept-alive connection; a non-2xx answer or a transport error raises."""
        if self._client is None:
            client = PrefectClient(
                self.api_url,
                auth_string=PREFECT_API_AUTH_STRING.value(),
                api_key=PREFECT_API_KEY.value(),
                httpx_settings={"timeout": self._timeout},
            )
            self._client = await client.__aenter__()
        try:
            with SettingsContext(profile=self._profile, settings=self._no_retries):
                response = await self._client.request(
                    "POST", "/events", json=[e.model_dump(mode="json") for e in events]
                )
            response.raise_for_status()
        except Exception:
            await self.aclose()  # start from a fresh connection next time
            raise

    async def aclose(self) -> None:
        """Close the connection, if any."""
        client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(None, None, None)


def retry_delay(attempts: int, minimum: float, maximum: float) -> float:
    """Exponential backoff: `minimum` after the first failure, doubling, capped at `maximum`."""
    return min(maximum, minimum * 2 ** max(0, attempts))


class Dispatcher:
    """Drains pending deliveries into events: at start (all of them), when woken, and every poll."""

    def __init__(
        self,
        store: DeliveryStore,
        emitter: Emitter,
        *,
        poll_seconds: float = 2.0,
        retry_min_seconds: float = 1.0,
        retry_max_seconds: float = 300.0,
        batch_size: int = 200,
        linger_seconds: float = 0.05,
    ) -> None:
        """Dispatch from `store` through `emitter`; after a wake-up, wait `linger_seconds` for more
        deliveries so that a burst becomes one request to Prefect and one commit, not one each."""
        self.store = store
        self.emitter = emitter
        self.poll_seconds = poll_seconds
        self.retry_min_seconds = retry_min_seconds
        self.retry_max_seconds = retry_max_seconds
        self.batch_size = batch_size
        self.linger_seconds = linger_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a dispatch now (called after a delivery was stored)."""
        self._wake.set()

    async def dispatch(self, *, everything: bool = False) -> tuple[int, int]:
        """Emit one batch of due deliveries (every pending one if `everything`); (emitted, failed)."""
        batch = await to_thread.run_sync(self.store.due, None if everything else utcnow(), self.batch_size)
        if not batch:
            return 0, 0
        try:
            await self.emitter.emit([event_for(d) for d in batch])
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            failed_at = utcnow()
            retry_at = [
                failed_at
                + timedelta(seconds=retry_delay(d.attempts, self.retry_min_seconds, self.retry_max_seconds))
                for d in batch
            ]
            await to_thread.run_sync(self.store.mark_failed, batch, error, retry_at)
            logger.warning("emitting %d incident.closed event(s) failed, will retry: %s", len(batch), error)
            return 0, len(batch)
        await to_thread.run_sync(self.store.mark_emitted, [d.id for d in batch], utcnow())
        for d in batch:
            logger.info("emitted incident.closed %s for %s delivery %s", d.event_id, d.source, d.delivery_id)
        return len(batch), 0

    async def run(self) -> None:
        """Dispatch until cancelled; first everything left pending by a previous process."""
        everything = True
        while True:
            self._wake.clear()
            try:
                emitted, failed = await self.dispatch(everything=everything)
                everything = False
                await to_thread.run_sync(self.store.checkpoint, CHECKPOINT_AFTER_COMMITS)
            except Exception:  # the store itself failed: keep the loop alive and try again later
                logger.exception("webhook dispatcher: reading or updating deliveries failed")
                emitted, failed = 0, 0
            if emitted == self.batch_size:
                continue  # more may be due right away
            if failed:
                await asyncio.sleep(self.retry_min_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                await asyncio.sleep(self.linger_seconds)
