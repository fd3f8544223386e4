"""The receiver's ASGI app: POST /webhooks/{pagerduty,incidentio,generic} and GET /healthz.

Answers: 202 accepted (stored, event to follow), 200 duplicate or ignored (not a closing event),
400 bad timestamp or payload, 401 bad signature, 404 source not configured, 413 body over the limit,
503 the delivery could not be stored (the sender retries). Only a 202 has a side effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postmortem.webhook.config import WebhookSettings
from postmortem.webhook.deliveries import DeliveryStore, utcnow
from postmortem.webhook.emit import Dispatcher, Emitter, resource_id
from postmortem.webhook.payloads import (
    MAX_TEXT,
    Notice,
    PayloadError,
    generic_notice,
    incidentio_notice,
    pagerduty_notice,
    parse_json,
)
from postmortem.webhook.verify import (
    SignatureError,
    TimestampError,
    verify_generic,
    verify_pagerduty,
    verify_standard,
)

logger = logging.getLogger("postmortem.webhook")


class BodyTooLarge(Exception):
    """The body is over the configured limit (HTTP 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as Content-Length or the bytes streamed so far pass `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise PayloadError("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"Content-Length {int(declared)} is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def authenticate(
    source: str, body: bytes, headers: Mapping[str, str], settings: WebhookSettings, now: float
) -> tuple[Notice, dict[str, Any]]:
    """Verify the request of one endpoint, then read its payload; raises Timestamp/Signature/PayloadError."""
    tolerance = settings.tolerance_seconds
    if source == "pagerduty":
        verify_pagerduty(body, headers.get("x-pagerduty-signature"), settings.pagerduty_secrets)
        document = parse_json(body)
        return pagerduty_notice(document), document
    if source == "incidentio":
        msg_id = headers.get("webhook-id")
        verify_standard(
            body,
            msg_id,
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            settings.incidentio_secrets,
            now,
            tolerance,
        )
        if msg_id is None or len(msg_id) > MAX_TEXT:
            raise PayloadError(f"webhook-id is longer than {MAX_TEXT} characters")
        document = parse_json(body)
        return incidentio_notice(document, msg_id), document
    verify_generic(
        body,
        headers.get("x-postmortem-timestamp"),
        headers.get("x-postmortem-signature"),
        settings.generic_secrets,
        now,
        tolerance,
    )
    document = parse_json(body)
    return generic_notice(document), document


def _error(status: int, source: str, message: str) -> JSONResponse:
    logger.info("%r webhook refused (%d): %s", source, status, message)
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: WebhookSettings, database_url: str, emitter: Emitter | None) -> Starlette:
    """The receiver storing into `database_url`; without an emitter, deliveries are stored but not emitted."""
    store = DeliveryStore(database_url, settings.sqlite_synchronous)
    enabled = frozenset(settings.sources())
    dispatcher = (
        Dispatcher(
            store,
            emitter,
            poll_seconds=settings.poll_seconds,
            retry_min_seconds=settings.retry_min_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            batch_size=settings.batch_size,
        )
        if emitter is not None
        else None
    )

    async def receive(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        if source not in enabled:
            return _error(404, source, f"no {source!r} webhook is configured (enabled: {sorted(enabled)})")
        try:
            body = await read_body(request, settings.max_body_bytes)
            notice, document = authenticate(source, body, request.headers, settings, time.time())
        except BodyTooLarge as exc:
            return _error(413, source, str(exc))
        except SignatureError as exc:
            return _error(401, source, str(exc))
        except (TimestampError, PayloadError) as exc:
            return _error(400, source, str(exc))
        if not notice.closes:
            logger.info("%s webhook %s ignored: %s", source, notice.delivery_id, notice.reason)
            return JSONResponse({"status": "ignored", "reason": notice.reason}, status_code=200)
        try:
            delivery = await to_thread.run_sync(store.accept, notice, document, utcnow())
        except Exception:
            logger.exception("%s webhook %s could not be stored", source, notice.delivery_id)
            return JSONResponse({"error": "the delivery could not be stored; retry later"}, status_code=503)
        answer = {
            "delivery_id": notice.delivery_id,
            "resource": resource_id(notice.incident_source, notice.incident_id),
        }
        if delivery is None:
            return JSONResponse({"status": "duplicate", **answer}, status_code=200)
        logger.info("%s webhook %s accepted for %s", source, notice.delivery_id, answer["resource"])
        if dispatcher is not None:
            dispatcher.wake()
        return JSONResponse(
            {"status": "accepted", "event_id": str(delivery.event_id), **answer}, status_code=202
        )

    async def health(_: Request) -> JSONResponse:
        counts = await to_thread.run_sync(store.counts)
        return JSONResponse({"status": "ok", "sources": sorted(enabled), "deliveries": counts})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(dispatcher.run()) if dispatcher is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if emitter is not None:
                await emitter.aclose()
            store.close()

    app = Starlette(
        routes=[
            Route("/webhooks/{source}", receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.dispatcher = dispatcher
    return app
