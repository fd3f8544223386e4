"""A random but plausible service call graph: edge -> gateway -> core services -> datastores/providers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

EDGES = ("web", "storefront", "webapp", "frontend")
GATEWAYS = ("api", "api-gateway", "edge-api", "bff")
CORES = (
    "checkout",
    "orders",
    "cart",
    "search",
    "inventory",
    "auth",
    "accounts",
    "catalog",
    "pricing",
    "shipping",
    "notifications",
    "recommendations",
    "payments",
    "billing",
    "profile",
    "reviews",
    "fulfillment",
    "promotions",
)
PROVIDERS = ("stripe-api", "adyen-api", "braintree-api", "twilio-api", "sendgrid-api", "shippo-api")
PAYMENT_PROVIDERS = ("stripe-api", "adyen-api", "braintree-api")
PROVIDERS_FOR = {
    "payments": PAYMENT_PROVIDERS,
    "billing": PAYMENT_PROVIDERS,
    "checkout": PAYMENT_PROVIDERS,
    "notifications": ("twilio-api", "sendgrid-api"),
    "accounts": ("twilio-api", "sendgrid-api"),
    "shipping": ("shippo-api",),
    "fulfillment": ("shippo-api",),
}
CACHES = ("redis-cache", "session-cache", "memcached")
MAX_SERVICES = 15

# what users cannot do when a service fails, for titles and tickets
CAPABILITIES = {
    "checkout": "complete checkout",
    "orders": "place orders",
    "cart": "update their cart",
    "search": "search the catalogue",
    "inventory": "see stock levels",
    "auth": "sign in",
    "accounts": "manage their account",
    "catalog": "browse products",
    "pricing": "see prices",
    "shipping": "get shipping quotes",
    "notifications": "receive order emails",
    "recommendations": "see recommendations",
    "payments": "pay for orders",
    "billing": "see invoices",
    "profile": "load their profile",
    "reviews": "read reviews",
    "fulfillment": "get orders shipped",
    "promotions": "apply discount codes",
}


@dataclass
class ServiceGraph:
    """Services with their kind (edge, gateway, app, db, cache, provider) and call edges."""

    kinds: dict[str, str]
    calls: dict[str, list[str]]
    teams: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> list[str]:
        """All services, in creation order."""
        return list(self.kinds)

    def of_kind(self, *kinds: str) -> list[str]:
        """Services of the given kinds, in creation order."""
        return [s for s, k in self.kinds.items() if k in kinds]

    def callers(self, service: str) -> list[str]:
        """Services that call `service` directly."""
        return [s for s, callees in self.calls.items() if service in callees]

    def upstream_hops(self, root: str) -> dict[str, int]:
        """Every transitive caller of `root` with its hop distance (root itself at 0)."""
        hops = {root: 0}
        queue = deque([root])
        while queue:
            current = queue.popleft()
            for caller in self.callers(current):
                if caller not in hops:
                    hops[caller] = hops[current] + 1
                    queue.append(caller)
        return hops

    def metric_names(self, service: str) -> dict[str, str]:
        """Metric name per signal role (errors, latency, traffic, cpu, saturation) for a service."""
        kind = self.kinds[service]
        if kind == "provider":
            return {
                "errors": "http_error_rate",
                "latency": "http_p99_latency_ms",
                "traffic": "http_requests_per_second",
            }
        prefix, unit = {"db": ("query", "queries"), "cache": ("command", "commands")}.get(
            kind, ("http", "http_requests")
        )
        saturation = {"db": "connections_utilization", "cache": "memory_utilization"}.get(
            kind, "worker_utilization"
        )
        if kind == "app" and any(self.kinds[c] == "db" for c in self.calls[service]):
            saturation = "db_pool_utilization"
        return {
            "errors": f"{prefix}_error_rate",
            "latency": f"{prefix}_p99_latency_ms",
            "traffic": f"{unit}_per_second",
            "cpu": "cpu_utilization",
            "saturation": saturation,
        }

    def capability(self, service: str) -> str:
        """What users do through `service` (for human-readable titles)."""
        base = service.removesuffix("-db")
        return CAPABILITIES.get(base, f"use {base}")


def _pick(rng: np.random.Generator, pool: tuple[str, ...] | list[str], k: int = 1) -> list[str]:
    idx = rng.choice(len(pool), size=k, replace=False)
    return [pool[i] for i in idx]


def build_topology(rng: np.random.Generator) -> ServiceGraph:
    """Draw a service graph of 7-15 services with at least one database and one external provider."""
    edge, gateway = _pick(rng, EDGES)[0], _pick(rng, GATEWAYS)[0]
    cores = _pick(rng, CORES, int(rng.integers(3, 9)))
    kinds: dict[str, str] = {edge: "edge", gateway: "gateway"}
    calls: dict[str, list[str]] = {edge: [gateway], gateway: []}
    for core in cores:
        kinds[core] = "app"
        calls[core] = []
    calls[gateway] = [cores[0], *cores[2:]]
    calls[cores[0]].append(cores[1])
    for i, core in enumerate(cores):
        later = [c for c in cores[max(i + 1, 2) :] if c != core]
        if later and rng.random() < 0.3:
            target = later[int(rng.integers(len(later)))]
            if target not in calls[core]:
                calls[core].append(target)

    def add(name: str, kind: str, caller: str) -> None:
        """Add `caller -> name`, creating `name` while there is room."""
        if name not in kinds:
            if len(kinds) >= MAX_SERVICES:
                return
            kinds[name] = kind
            calls[name] = []
        if name not in calls[caller]:
            calls[caller].append(name)

    add(f"{cores[1]}-db", "db", cores[1])
    add(_pick(rng, PROVIDERS_FOR.get(cores[1], PROVIDERS))[0], "provider", cores[1])
    for core in cores[2:] + cores[:1]:
        if rng.random() < 0.45:
            add(f"{core}-db", "db", core)
    if rng.random() < 0.4:
        cache = _pick(rng, CACHES)[0]
        for core in _pick(rng, cores, min(2, len(cores))):
            add(cache, "cache", core)
    if rng.random() < 0.3:
        add(_pick(rng, PROVIDERS_FOR.get(cores[-1], PROVIDERS))[0], "provider", cores[-1])
    teams = {s: _team(s, k) for s, k in kinds.items()}
    return ServiceGraph(kinds=kinds, calls=calls, teams=teams)


def _team(service: str, kind: str) -> str:
    if kind in ("edge", "gateway"):
        return "team-platform"
    if kind in ("db", "cache"):
        return "team-data"
    if kind == "provider":
        return "team-integrations"
    return f"team-{service}"
