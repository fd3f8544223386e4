"""Reading the bundle's documents: incident.json, topology.json and actions.jsonl, with file:line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from connectors.bundle_format import BundleError
from postmortem.model import Action, Incident, Topology


def _key_line(text: str, key: str) -> int | None:
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def read_incident(file: Path) -> Incident:
    """Read and validate `incident.json`."""
    name = file.name
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(name, None, None, "required file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(name, None, None, f"cannot read file: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(name, exc.lineno, None, f"not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise BundleError(name, 1, None, "expected a JSON object")
    for key in ("id", "severity"):
        if data.get(key) in (None, ""):
            raise BundleError(name, 1, key, "required key is missing")
    try:
        return Incident.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        fld = ".".join(str(p) for p in err["loc"]) or None
        top = str(err["loc"][0]) if err["loc"] else ""
        problem = _describe(err, data.get(top))
        raise BundleError(name, _key_line(text, top) or 1, fld, problem) from None


def _describe(err: Mapping[str, Any], value: Any) -> str:
    kind = err.get("type", "")
    if kind == "timezone_aware":
        return f"timestamp {value!r} has no UTC offset (add Z or +hh:mm)"
    if kind == "literal_error":
        return f"unknown value {value!r}: {err['msg'].replace('Input should be ', 'expected ')}"
    return f"{err['msg']} (got {value!r})"


def read_topology(file: Path) -> Topology:
    """Read `topology.json`."""
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(file.name, exc.lineno, None, f"not valid JSON: {exc.msg}") from None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not all(isinstance(v, list) for v in services.values()):
        raise BundleError(
            file.name,
            _key_line(text, "services") or 1,
            "services",
            'expected {"services": {"<service>": ["<callee>", ...]}}',
        )
    return Topology(services={str(k): [str(x) for x in v] for k, v in services.items()})


def read_actions(file: Path) -> list[Action]:
    """Read proposed actions; invalid optional fields are nulled and recorded for the gate."""
    actions: list[Action] = []
    with file.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BundleError(
                    file.name, number, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
                ) from None
            if not isinstance(obj, dict):
                raise BundleError(file.name, number, None, "expected a JSON object")
            if not obj.get("title"):
                raise BundleError(file.name, number, "title", "required key is missing")
            invalid: dict[str, Any] = {}
            while True:
                try:
                    action = Action.model_validate(obj)
                    break
                except ValidationError as exc:
                    bad = str(exc.errors()[0]["loc"][0])
                    if bad == "title" or bad in invalid:
                        raise BundleError(file.name, number, bad, exc.errors()[0]["msg"]) from None
                    invalid[bad] = obj.pop(bad)
            if invalid:
                action.invalid_fields = invalid  # type: ignore[attr-defined]
            action.line = number  # type: ignore[attr-defined]
            actions.append(action)
    return actions
