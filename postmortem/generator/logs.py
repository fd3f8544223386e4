"""Log lines: baseline chatter per service, an error burst of new templates at the root, echoes in callers.

Lines are planned as numpy columns (time, service, template), sorted, then rendered to JSON text in chunks
with pyarrow string kernels; no Python work per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from postmortem.generator.noise import floats_text, hex_strings, ints_text, ip_strings, uuid_strings
from postmortem.generator.story import Story
from postmortem.generator.vocab import LOG_WEIGHT_BY_KIND, LOGS_BY_KIND

CHUNK = 250_000
_PLACEHOLDER = re.compile(r"<(\w+)(?::([^>]*))?>")


@dataclass(frozen=True)
class Template:
    """A log message shape: literal text (JSON-escaped) and random placeholders."""

    level: str
    service: str
    parts: tuple[str | tuple[str, tuple[str, ...]], ...]

    @classmethod
    def parse(cls, level: str, service: str, text: str) -> Template:
        """Split `text` on `<kind:args>` placeholders; literal parts are escaped for a JSON string."""
        parts: list[str | tuple[str, tuple[str, ...]]] = []
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > pos:
                parts.append(_escape(text[pos : match.start()]))
            args = tuple(match.group(2).split(":")) if match.group(2) else ()
            parts.append((match.group(1), args))
            pos = match.end()
        if pos < len(text):
            parts.append(_escape(text[pos:]))
        return cls(level, service, tuple(parts))

    def render(self, rng: np.random.Generator, m: int) -> pa.Array:
        """`m` messages of this shape with fresh random values."""
        pieces = [p if isinstance(p, str) else _values(rng, p[0], p[1], m) for p in self.parts]
        if not any(isinstance(p, pa.Array) for p in pieces):
            return pc.take(pa.array(["".join(pieces)]), pa.array(np.zeros(m, dtype=np.int64)))  # type: ignore[arg-type]
        return pc.binary_join_element_wise(*pieces, "")


def _escape(text: str) -> str:
    return orjson.dumps(text).decode()[1:-1]


def _values(rng: np.random.Generator, kind: str, args: tuple[str, ...], m: int) -> pa.Array:
    """Random text for one placeholder kind."""
    if kind == "int":
        return ints_text(rng.integers(int(args[0]), int(args[1]) + 1, m))
    if kind == "ms":
        lo, hi = np.log1p(float(args[0])), np.log1p(float(args[1]))
        return ints_text(np.expm1(rng.uniform(lo, hi, m)))
    if kind == "float":
        return floats_text(rng.uniform(float(args[0]), float(args[1]), m), int(args[2]))
    if kind == "hex":
        return hex_strings(rng, m, int(args[0]))
    if kind == "uuid":
        return uuid_strings(rng, m)
    if kind == "ip":
        return ip_strings(rng, m)
    if kind == "word":
        words = pa.array([_escape(w) for w in args[0].split("|")])
        return pc.take(words, pa.array(rng.integers(0, len(words), m)))
    raise ValueError(f"unknown placeholder <{kind}>")


def _baseline_templates(rng: np.random.Generator, story: Story) -> tuple[list[Template], np.ndarray]:
    """Every service's everyday templates with their sampling weights."""
    graph = story.graph
    templates: list[Template] = []
    weights: list[float] = []
    for service, kind in graph.kinds.items():
        volume = LOG_WEIGHT_BY_KIND[kind] * rng.uniform(0.5, 1.5)
        if volume == 0:
            continue
        callees = graph.calls[service] or [f"{service}-worker"]
        for level, text, weight in LOGS_BY_KIND[kind]:
            callee = callees[int(rng.integers(len(callees)))]
            templates.append(Template.parse(level, service, text.format(self=service, callee=callee)))
            weights.append(volume * weight * rng.uniform(0.6, 1.4))
    return templates, np.asarray(weights)


def _incident_templates(story: Story) -> tuple[list[Template], list[Template]]:
    """New error templates at the root (or its nearest callers when the root has no logs) and echoes."""
    graph, sc = story.graph, story.scenario
    logs = [s for s in story.affected if LOG_WEIGHT_BY_KIND[graph.kinds[s]] > 0]
    emitters = [story.root] if story.root in logs else [c for c in graph.callers(story.root) if c in logs]
    root = [Template.parse(level, e, story.fmt(text)) for e in emitters for level, text in sc.root_logs]
    echo = [
        Template.parse(level, s, story.fmt(text, self=s, next=_next_hop(story, s)))
        for s in logs
        if s not in emitters
        for level, text in sc.echo_logs
    ]
    return root, echo


def _next_hop(story: Story, service: str) -> str:
    """The service one step closer to the root on the failing path."""
    closer = [c for c in story.graph.calls[service] if story.hops.get(c) == story.hops[service] - 1]
    return closer[0] if closer else story.root


def _burst_times(rng: np.random.Generator, story: Story, service: str, m: int) -> np.ndarray:
    """`m` times (epoch ns) spread over `service`'s impact, with a short tail after recovery."""
    start = story.service_onset.get(service, story.onset).timestamp()
    end = story.recovery.get(service, story.mitigated).timestamp()
    seconds = start + (end - start) * rng.random(m)
    tail = rng.random(m) < 0.08
    seconds[tail] = end + rng.exponential(story.recovery_s, int(tail.sum()))
    return (seconds * 1e9).astype(np.int64)


def plan_logs(
    rng: np.random.Generator, story: Story, n: int
) -> tuple[list[Template], np.ndarray, np.ndarray]:
    """Templates, and per line (sorted by time): epoch ns and template index."""
    base, weights = _baseline_templates(rng, story)
    root, echo = _incident_templates(story)
    n_root = int(n * rng.uniform(0.04, 0.08)) if root else 0
    n_echo = int(n * rng.uniform(0.03, 0.06)) if echo else 0
    n_base = n - n_root - n_echo
    start, end = story.window_start.timestamp(), story.window_end.timestamp()
    ts = [((start + (end - start) * rng.random(n_base)) * 1e9).astype(np.int64)]
    code = [rng.choice(len(base), size=n_base, p=weights / weights.sum())]
    for group, count in ((root, n_root), (echo, n_echo)):
        if not count:
            continue
        offset = len(base) + (0 if group is root else len(root))
        picks = rng.integers(0, len(group), count)
        for j, template in enumerate(group):
            mask = picks == j
            ts.append(_burst_times(rng, story, template.service, int(mask.sum())))
            code.append(np.full(int(mask.sum()), offset + j))
    all_ts, all_code = np.concatenate(ts), np.concatenate(code)
    order = np.argsort(all_ts, kind="stable")
    return [*base, *root, *echo], all_ts[order], all_code[order]


def render_lines(
    rng: np.random.Generator, story: Story, templates: list[Template], ts: np.ndarray, code: np.ndarray
) -> Iterator[pa.Array]:
    """JSON lines (each ending in a newline), in chunks."""
    services = pa.array([t.service for t in templates])
    levels = pa.array([t.level for t in templates])
    pods = {s: pa.array(p) for s, p in story.pods.items()}
    for lo in range(0, len(ts), CHUNK):
        chunk_ts, chunk_code = ts[lo : lo + CHUNK], code[lo : lo + CHUNK]
        m = len(chunk_ts)
        positions, messages, hosts = [], [], []
        for j in np.unique(chunk_code):
            where = np.flatnonzero(chunk_code == j)
            template = templates[int(j)]
            positions.append(where)
            messages.append(template.render(rng, len(where)))
            pool = pods[template.service]
            hosts.append(pc.take(pool, pa.array(rng.integers(0, len(pool), len(where)))))
        inverse = np.empty(m, dtype=np.int64)
        inverse[np.concatenate(positions)] = np.arange(m)
        take = pa.array(inverse)
        codes = pa.array(chunk_code)
        stamps = pc.strftime(
            pa.array(chunk_ts // 1_000_000, pa.timestamp("ms", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ"
        )
        yield pc.binary_join_element_wise(
            '{"ts":"',
            stamps,
            '","service":"',
            pc.take(services, codes),
            '","level":"',
            pc.take(levels, codes),
            '","message":"',
            pc.take(pa.concat_arrays(messages), take),
            '","attrs":{"host":"',
            pc.take(pa.concat_arrays(hosts), take),
            '","trace_id":"',
            hex_strings(rng, m, 32),
            '"}}\n',
            "",
        )
