"""Receiver fixtures: settings with every source enabled, a fresh store, the app served by a real uvicorn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from postmortem.webhook.app import create_app
from postmortem.webhook.config import WebhookSettings
from postmortem.webhook.deliveries import DeliveryStore
from postmortem.webhook.emit import Emitter
from tests.store.conftest import pg_database, store_url  # noqa: F401  (fixtures: both store backends)
from tests.webhook.vendor import (
    GENERIC_SECRET,
    INCIDENTIO_NEXT_SECRET,
    INCIDENTIO_SECRET,
    PAGERDUTY_NEXT_SECRET,
    PAGERDUTY_SECRET,
)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WebhookSettings:
    """Every endpoint enabled, two live secrets on the vendors (a rotation under way), fast retries."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    return WebhookSettings(
        pagerduty_secrets=f"{PAGERDUTY_SECRET},{PAGERDUTY_NEXT_SECRET}",
        incidentio_secrets=f"{INCIDENTIO_SECRET} {INCIDENTIO_NEXT_SECRET}",
        generic_secrets=GENERIC_SECRET,
        poll_seconds=0.2,
        retry_min_seconds=0.05,
        retry_max_seconds=0.2,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """An SQLite store file of its own."""
    return f"sqlite:///{tmp_path / 'receiver.db'}"


@dataclass
class Running:
    """A receiver served on 127.0.0.1 by uvicorn in a thread, and an HTTP client for it."""

    app: Starlette
    url: str
    http: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def store(self) -> DeliveryStore:
        """The app's delivery store."""
        return self.app.state.store

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST a delivery to /webhooks/<source>."""
        return self.http.post(f"/webhooks/{source}", content=body, headers=headers)

    def stop(self) -> None:
        """Shut uvicorn down (lifespan shutdown included) and wait for it."""
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def serve(app: Starlette) -> Running:
    """Serve `app` with uvicorn on a free loopback port; returns once it accepts connections."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during startup")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    return Running(app, url, httpx.Client(base_url=url, timeout=10), server, thread)


Receiver = Callable[..., Running]


@pytest.fixture
def receiver(settings: WebhookSettings, db_url: str) -> Iterator[Receiver]:
    """Start receivers (optionally with an emitter and other settings); all are stopped at the end."""
    started: list[Running] = []

    def start(emitter: Emitter | None = None, app_settings: WebhookSettings | None = None) -> Running:
        running = serve(create_app(app_settings or settings, db_url, emitter))
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        if running.thread.is_alive():
            running.stop()
