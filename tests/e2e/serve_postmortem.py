"""Serve the `postmortem` flow with the event trigger of prefect.yaml (started as a subprocess by e2e tests).

    python tests/e2e/serve_postmortem.py --config /path/to/postmortem.toml

The trigger and the parameters come from the `postmortem` deployment of prefect.yaml, so the e2e test
exercises the shipped trigger; only `config` is pointed at the test's postmortem.toml.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from prefect.events import DeploymentEventTrigger
from prefect.settings import PREFECT_API_URL

from flows.postmortem import postmortem

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def shipped_deployment(name: str = "postmortem") -> dict[str, Any]:
    """The deployment of that name in prefect.yaml."""
    document = yaml.safe_load(PREFECT_YAML.read_text())
    return next(d for d in document["deployments"] if d["name"] == name)


def wait_for_api(timeout: float = 60) -> None:
    """Block until the Prefect API answers its health check (the server may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{PREFECT_API_URL.value()}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the Prefect API at {PREFECT_API_URL.value()} did not come up")
        time.sleep(0.1)


def main() -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    deployment = shipped_deployment()
    triggers = [DeploymentEventTrigger.model_validate(t) for t in deployment.get("triggers", [])]
    parameters = {**(deployment.get("parameters") or {}), "config": args.config}
    wait_for_api()
    postmortem.serve(
        name=deployment["name"], triggers=triggers, parameters=parameters, print_starting_message=False
    )


if __name__ == "__main__":
    main()
