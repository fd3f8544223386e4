"""The connector commands: `postmortem collect` and `postmortem connectors list`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connectors.bundle_documents import read_incident
from connectors.collect import collect, fetch_incident, resolve_incident
from connectors.config import DEFAULT_FILE, is_secret, load_config, parse_duration
from connectors.registry import connector_types

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postmortem collect", description="Pull an incident's evidence from the configured connectors."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "incident",
        nargs="?",
        metavar="INCIDENT",
        help="an incident.json file (or a bundle directory holding one), else an incident id",
    )
    which.add_argument(
        "--incident-json", type=Path, metavar="FILE", help="the incident record (incident.json)"
    )
    which.add_argument("--incident-id", metavar="ID", help="resolve the incident through an incident source")
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_FILE), help="postmortem.toml")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="bundle directory to write")
    parser.add_argument("--before", type=parse_duration, help="window start before impact start (e.g. 6h)")
    parser.add_argument("--after", type=parse_duration, help="window end after resolution (e.g. 30m)")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="collect only this connector (repeatable)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`postmortem collect`: exit 0 complete, 3 partial, 2 bad config or input, 1 incident lookup failed."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        durations = {k: v for k, v in (("before", args.before), ("after", args.after)) if v is not None}
        if durations:
            config = replace(config, collect=config.collect.model_copy(update=durations))
        if args.incident_json is not None:
            incident = read_incident(args.incident_json)
        elif args.incident is not None:
            incident = resolve_incident(config, args.incident)
        else:
            incident = fetch_incident(config, args.incident_id)
        result = collect(incident, config, args.out, only=args.only)
    except ValueError as exc:  # ConfigError, BundleError, a bad window or output directory
        print(f"postmortem collect: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except LookupError as exc:
        print(f"postmortem collect: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for s in result.sources:
        detail = f"{s.records} records" if s.status == "ok" else s.error
        print(f"{s.status:5}  {s.source}/{s.capability or '-'}  {s.duration_s:.2f}s  {detail}")
    state = "partial" if result.partial else "complete"
    print(f"{state}: bundle written to {result.path} in {result.duration_s:.2f}s")
    return EXIT_PARTIAL if result.partial else EXIT_OK


def _type_name(annotation: Any) -> str:
    if is_secret(annotation):
        return "secret reference"
    name = getattr(annotation, "__name__", None)
    if name and not getattr(annotation, "__args__", None):
        return name
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(\w+)", r"\1", str(annotation))  # drop module paths


def describe_types() -> list[dict[str, Any]]:
    """Each connector type with its capabilities and config fields (name, type, required, default, secret)."""
    described = []
    for name, ct in connector_types().items():
        fields = []
        for fname, info in ct.config.model_fields.items():
            secret = is_secret(info.annotation, info.metadata)
            fields.append(
                {
                    "name": fname,
                    "type": "secret reference" if secret else _type_name(info.annotation),
                    "required": info.is_required(),
                    "default": None
                    if info.is_required()
                    else _jsonable_default(info.get_default(call_default_factory=True)),
                    "secret": secret,
                    "description": info.description or "",
                }
            )
        described.append(
            {
                "type": name,
                "capabilities": list(ct.capabilities),
                "summary": ct.summary,
                "module": ct.config.__module__,
                "fields": fields,
            }
        )
    return described


def _jsonable_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value if isinstance(value, str | int | float | bool | list | dict | type(None)) else repr(value)


def list_main(argv: Sequence[str] | None = None) -> int:
    """`postmortem connectors list [--json]`: every type, its capabilities and its config fields."""
    parser = argparse.ArgumentParser(prog="postmortem connectors list", description="List connector types.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    described = describe_types()
    if args.json:
        print(json.dumps(described, indent=2))
        return EXIT_OK
    for item in described:
        print(f"{item['type']}  [{', '.join(item['capabilities'])}]  {item['summary']}")
        for f in item["fields"]:
            need = "required" if f["required"] else f"default {f['default']!r}"
            secret = ", secret: { env = ... } or { prefect_secret = ... }" if f["secret"] else ""
            print(f"    {f['name']}: {f['type']} ({need}{secret})")
    return EXIT_OK
