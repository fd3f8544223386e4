"""Where a change sits relative to the root service: same service, dependency, caller, unrelated, unknown.

The root is not one service but a weighted guess (`root_weights`): the service ranking's leaders in
proportion to their scores, else the onset's service, else the incident's services alike. A change's
service factor is the weighted mean of its likelihood ratio against each candidate root.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import pandas as pd

from postmortem.model import Incident, Onset, ServiceCandidate, Topology

# likelihood ratio of a causal change vs an everyday change by where it sits (see docs/root-cause.md)
SAME_LR = 8.0  # the root service itself
DEPENDENCY_LR = 1.5  # a service the root calls, 1 hop; x HOP_DECAY per further hop
CALLER_LR = 0.7  # a service that calls the root, 1 hop; x HOP_DECAY per further hop
HOP_DECAY = 0.5
MAX_HOPS = 3
UNRELATED_LR = 0.12  # both in the topology, no path between them within MAX_HOPS
UNKNOWN_LR = 0.8  # the change's service (or the root) is not in the topology, or no topology
NO_SERVICE_LR = 0.8  # the change names no service (cluster-wide infrastructure, shared config)
ROOT_SHARE = 0.5  # ranked services from this share of the top score are candidate roots
MAX_ROOTS = 3

Relation = tuple[float, str, int]  # (likelihood ratio, relation, hops)


def root_weights(services: Sequence[ServiceCandidate], onset: Onset, incident: Incident) -> dict[str, float]:
    """Probability of each candidate root service (sums to 1; empty when nothing names a service)."""
    scored = [s for s in services if s.score > 0]
    if scored:
        top = scored[0].score
        keep = [s for s in scored[:MAX_ROOTS] if s.score >= ROOT_SHARE * top]
        total = sum(s.score for s in keep)
        return {s.service: s.score / total for s in keep}
    if onset.service:
        return {onset.service: 1.0}
    names = list(dict.fromkeys([s.service for s in services] + [s for s in incident.services if s]))
    return {name: 1 / len(names) for name in names}


def _graphs(topology: Topology) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str]]:
    """Lower-cased call graph, reverse call graph and every service the topology names."""
    calls: dict[str, set[str]] = {}
    callers: dict[str, set[str]] = {}
    for svc, callees in topology.services.items():
        calls.setdefault(svc.lower(), set())
        for callee in callees:
            calls[svc.lower()].add(callee.lower())
            callers.setdefault(callee.lower(), set()).add(svc.lower())
    named = set(calls) | set(callers)
    return calls, callers, named


def _hops(graph: Mapping[str, set[str]], start: str) -> dict[str, int]:
    """Services reachable from `start` along `graph` within MAX_HOPS, with their distance."""
    seen, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        if seen[node] == MAX_HOPS:
            continue
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return seen


def relations_to(root: str, names: Sequence[str], topology: Topology) -> dict[str, Relation]:
    """Each (lower-case) service name's likelihood ratio, relation and hops relative to `root`."""
    calls, callers, named = _graphs(topology)
    start = root.lower()
    down, up = _hops(calls, start), _hops(callers, start)
    out: dict[str, Relation] = {}
    for name in names:
        if name == start:
            out[name] = (SAME_LR, "same", 0)
        elif name in down:
            out[name] = (DEPENDENCY_LR * HOP_DECAY ** (down[name] - 1), "dependency", down[name])
        elif name in up:
            out[name] = (CALLER_LR * HOP_DECAY ** (up[name] - 1), "caller", up[name])
        elif start in named and name in named:
            out[name] = (UNRELATED_LR, "unrelated", -1)
        else:
            out[name] = (UNKNOWN_LR, "unknown", -1)
    return out


def service_factors(service: pd.Series, roots: Mapping[str, float], topology: Topology) -> pd.DataFrame:
    """Per change: `service_lr` (weighted over the candidate roots), and the `relation`, `service_hops`
    and `root` of the root that contributes most."""
    if not roots:
        return pd.DataFrame(
            {"service_lr": 1.0, "relation": "no_reference", "service_hops": -1.0, "root": ""},
            index=service.index,
        )
    names = service.str.lower()
    unique = list(names.dropna().unique())
    per_root = {root: relations_to(root, unique, topology) for root in roots}
    rows = []
    for name in unique:
        contributions = {root: weight * per_root[root][name][0] for root, weight in roots.items()}
        best = max(contributions, key=lambda r: contributions[r])
        _, relation, hops = per_root[best][name]
        rows.append((sum(contributions.values()), relation, float(hops), best))
    table = pd.DataFrame(rows, index=unique, columns=["service_lr", "relation", "service_hops", "root"])
    first_root = next(iter(roots))
    mapped = table.reindex(names.fillna("\x00").to_numpy()).set_axis(service.index)
    return mapped.fillna(
        {"service_lr": NO_SERVICE_LR, "relation": "no_service", "service_hops": -1.0, "root": first_root}
    ).astype({"service_lr": float, "service_hops": float})
