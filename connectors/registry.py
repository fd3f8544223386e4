"""Connector types: the built-ins (an explicit list) and third-party ones (entry points)."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from connectors.base import CAPABILITIES, capabilities_of

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "postmortem.connectors"

# built-in connector types, imported lazily: "module:ATTRIBUTE" of a ConnectorType
BUILTIN_PATHS: tuple[str, ...] = (
    "connectors.prometheus:CONNECTOR",
    "connectors.alertmanager:CONNECTOR",
    "connectors.loki:CONNECTOR",
    "connectors.git:CONNECTOR",
    "connectors.github:CONNECTOR",
    "connectors.gitlab:CONNECTOR",
    "connectors.argocd:CONNECTOR",
    "connectors.pagerduty:CONNECTOR",
    "connectors.incidentio:CONNECTOR",
)

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_\-]*$")


@dataclass(frozen=True)
class ConnectorType:
    """A kind of connector: config model, factory (config, instance name) -> connector, capabilities."""

    type: str
    config: type[BaseModel]
    factory: Callable[[BaseModel, str], object]
    capabilities: tuple[str, ...]
    summary: str

    def __post_init__(self) -> None:
        if not _TYPE_RE.match(self.type):
            raise ValueError(f"connector type {self.type!r} must be lower case letters, digits, '_' or '-'")
        unknown = [c for c in self.capabilities if c not in CAPABILITIES]
        if unknown:
            raise ValueError(
                f"connector type {self.type!r}: unknown capabilities {unknown} "
                f"(known: {', '.join(CAPABILITIES)})"
            )

    def create(self, settings: BaseModel, name: str) -> object:
        """Build a connector instance and check it has a `name` and every declared capability."""
        connector = self.factory(settings, name)
        if getattr(connector, "name", None) != name:
            raise TypeError(f"connector type {self.type!r}: the factory must set connector.name = {name!r}")
        missing = sorted(set(self.capabilities) - set(capabilities_of(connector)))
        if missing:
            raise TypeError(
                f"connector type {self.type!r} declares {missing} but its object lacks the methods"
            )
        return connector


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _checked(value: Any, origin: str) -> ConnectorType:
    if not isinstance(value, ConnectorType):
        raise TypeError(f"{origin} is {type(value).__name__}, not a ConnectorType")
    return value


@lru_cache(maxsize=1)
def builtin_types() -> dict[str, ConnectorType]:
    """The built-in types whose modules import; a module not importable is skipped with a warning."""
    found: dict[str, ConnectorType] = {}
    for path in BUILTIN_PATHS:
        try:
            ct = _checked(_load(path), path)
        except (ImportError, AttributeError) as exc:
            log.warning("built-in connector %s is not available: %s", path, exc)
            continue
        found[ct.type] = ct
    return found


def entry_point_types() -> dict[str, ConnectorType]:
    """Third-party types from the entry-point group `postmortem.connectors` (broken ones logged, skipped)."""
    found: dict[str, ConnectorType] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} = {ep.value}"
        try:
            ct = _checked(ep.load(), origin)
        except Exception as exc:  # a broken plug-in must not take the built-ins down; it is reported
            log.warning("%s cannot be loaded: %s: %s", origin, type(exc).__name__, exc)
            continue
        found[ct.type] = ct
    return found


_REGISTERED: dict[str, ConnectorType] = {}


def register(connector_type: ConnectorType, *, replace: bool = False) -> None:
    """Register a type at run time (embedding applications, tests)."""
    if connector_type.type in _REGISTERED and not replace:
        raise ValueError(f"connector type {connector_type.type!r} is already registered")
    _REGISTERED[connector_type.type] = connector_type


def unregister(type_name: str) -> None:
    """Remove a type registered with `register`."""
    _REGISTERED.pop(type_name, None)


def connector_types() -> dict[str, ConnectorType]:
    """Every known type by name: built-ins, then entry points and run-time registrations (never shadowing)."""
    types = dict(builtin_types())
    for origin, extra in (("entry point", entry_point_types()), ("registered", _REGISTERED)):
        for name, ct in extra.items():
            if name in types and types[name] is not ct:
                log.warning("%s connector type %r ignored: the name is already taken", origin, name)
                continue
            types[name] = ct
    return dict(sorted(types.items()))


def build(name: str, table: Mapping[str, Any], types: Mapping[str, ConnectorType] | None = None) -> object:
    """Validate one `[connectors.<name>]` table (with its `type`) and build the connector."""
    from connectors.config import connector_config  # config imports this module

    return connector_config(name, table, types=types).build()


def __getattr__(name: str) -> Any:
    """`BUILTIN`: the built-in types, imported on first use (no import-time side effects)."""
    if name == "BUILTIN":
        return builtin_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
