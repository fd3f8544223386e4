"""`postmortem webhook`: check the configuration, then serve the receiver with uvicorn."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError


def serve(host: str | None, port: int | None, access_log: bool = False) -> int:
    """Serve until interrupted; exit 2 (naming the setting) when the configuration is unusable."""
    import uvicorn

    from postmortem.settings import get_settings
    from postmortem.webhook.app import create_app
    from postmortem.webhook.config import WebhookSettings
    from postmortem.webhook.emit import PrefectEmitter

    try:
        settings = WebhookSettings()
        emitter = PrefectEmitter()
    except (ValidationError, ValueError) as exc:
        print(f"postmortem webhook: {exc}", file=sys.stderr)
        return 2
    if not settings.sources():
        print(
            "postmortem webhook: no source is configured; set at least one of POSTMORTEM_WEBHOOK_"
            "PAGERDUTY_SECRETS, POSTMORTEM_WEBHOOK_INCIDENTIO_SECRETS, POSTMORTEM_WEBHOOK_GENERIC_SECRETS",
            file=sys.stderr,
        )
        return 2
    host = host or settings.host
    port = settings.port if port is None else port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, get_settings().db_url, emitter)
    paths = ", ".join(f"/webhooks/{s}" for s in settings.sources())
    print(f"postmortem webhook: http://{host}:{port} ({paths}) -> {emitter.api_url}", flush=True)
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info", lifespan="on")
    return 0
