"""Metric series per service: baseline with daily trend and noise, plus the incident's impact profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from postmortem.generator.noise import smooth_noise, spikes
from postmortem.generator.story import Story

DECIMALS = {"errors": 5, "latency": 1, "traffic": 2, "cpu": 4, "saturation": 4}
TRAFFIC_BASE = {
    "edge": (800, 3000),
    "gateway": (700, 2500),
    "app": (50, 800),
    "db": (200, 5000),
    "cache": (1000, 20000),
    "provider": (5, 100),
}
LATENCY_BASE = {"db": (2, 30), "cache": (0.5, 3), "provider": (150, 600)}


@dataclass(frozen=True)
class Series:
    """One metric series to draw."""

    service: str
    metric: str
    role: str


def plan_series(story: Story, count: int | None) -> list[Series]:
    """The series to draw: every role of every service (root first), then per-instance variants."""
    order = [*story.affected, *(s for s in story.graph.services if s not in story.hops)]
    base = [
        Series(service, name, role)
        for service in order
        for role, name in story.graph.metric_names(service).items()
    ]
    if count is None or count == len(base):
        return base
    if count < len(base):
        return base[:count]
    extra = [
        Series(s.service, f"{s.metric}.instance-{k // len(base) + 1}", s.role)
        for k, s in ((k, base[k % len(base)]) for k in range(count - len(base)))
    ]
    return base + extra


def _profile(t: np.ndarray, start: float, rise: float, end: float, tau: float) -> np.ndarray:
    """0 before `start`, linear rise to 1, flat until `end`, exponential decay after."""
    up = np.clip((t - start) / max(rise, 1.0), 0.0, 1.0)
    down = np.where(t > end, np.exp(-np.clip(t - end, 0, None) / tau), 1.0)
    return up * down


def metric_table(
    rng: np.random.Generator, story: Story, series_count: int | None, points: int | None
) -> pa.Table:
    """Draw every series into a long table `ts, service, metric, value` (ts as ISO text)."""
    start = story.window_start.timestamp()
    span = (story.window_end - story.window_start).total_seconds()
    n = max(2, points if points is not None else round(span / 60))
    step = max(1, round(span / n))
    t = start + step * np.arange(n, dtype=np.float64)
    stamps = pc.strftime(pa.array(t.astype(np.int64), pa.timestamp("s", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ")

    tod = (t / 3600.0) % 24
    diurnal = 1 + rng.uniform(0.15, 0.4) * np.sin(2 * np.pi * (tod - 9) / 24)
    growth = np.ones(n)
    ramp = np.zeros(n)
    if story.precursor is not None:
        lin = np.clip(
            (t - story.precursor.timestamp()) / (story.onset - story.precursor).total_seconds(), 0, 1
        )
        growth = 1 + int(story.ctx["growth_pct"]) / 100 * lin
        ramp = lin**1.5

    plan = plan_series(story, series_count)
    gap_series = _gap_series(rng, story, plan, n)
    values, keep = [], []
    for i, spec in enumerate(plan):
        series = _draw(rng, story, spec, t, diurnal, growth, ramp)
        values.append(np.round(series, DECIMALS[spec.role]))
        idx = np.arange(n)
        if i == gap_series:
            gap_start = int(rng.integers(n // 10, n - n // 10))
            idx = idx[(idx < gap_start) | (idx >= gap_start + int(rng.integers(5, 16)))]
            values[-1] = values[-1][idx]
        keep.append(idx)
    codes = np.repeat(np.arange(len(plan)), [len(k) for k in keep])
    return pa.table(
        {
            "ts": pc.take(stamps, pa.array(np.concatenate(keep))),
            "service": pc.take(pa.array([s.service for s in plan]), pa.array(codes)),
            "metric": pc.take(pa.array([s.metric for s in plan]), pa.array(codes)),
            "value": pa.array(np.concatenate(values)),
        }
    )


def _gap_series(rng: np.random.Generator, story: Story, plan: list[Series], n: int) -> int | None:
    """Index of one series off the failing path that misses a few scrapes (or None)."""
    candidates = [i for i, s in enumerate(plan) if s.service not in story.hops]
    if n < 60 or not candidates or rng.random() < 0.4:
        return None
    return candidates[int(rng.integers(len(candidates)))]


def _draw(
    rng: np.random.Generator,
    story: Story,
    spec: Series,
    t: np.ndarray,
    diurnal: np.ndarray,
    growth: np.ndarray,
    ramp: np.ndarray,
) -> np.ndarray:
    """One series: baseline shape by role, noise, and the incident effect for affected services."""
    n = len(t)
    kind = story.graph.kinds[spec.service]
    noise = smooth_noise(rng, n, int(rng.integers(3, 7) if spec.role == "errors" else rng.integers(3, 15)))
    effect = story.effects.get(spec.service, {}).get(spec.role, 0.0)
    profile = np.zeros(n)
    if effect:
        profile = _profile(
            t,
            story.service_onset[spec.service].timestamp(),
            story.rise_s,
            story.recovery[spec.service].timestamp(),
            story.recovery_s,
        )
        profile = profile * np.clip(1 + 0.12 * smooth_noise(rng, n, 5), 0.5, 1.5)
    saturating = (
        story.precursor is not None and spec.service == story.root and spec.role in ("saturation", "cpu")
    )
    if spec.role == "traffic":
        base = rng.uniform(*TRAFFIC_BASE[kind])
        return base * diurnal * growth * (1 + 0.04 * noise)
    if spec.role == "errors":
        base = rng.uniform(0.0005, 0.006)
        value = base * np.exp(0.3 * noise) + effect * profile * (1 + 0.1 * rng.standard_normal(n))
        return np.clip(value, 0.0, 1.0)
    if spec.role == "latency":
        base = rng.uniform(*LATENCY_BASE.get(kind, (40, 400)))
        value = base * (1 + 0.08 * noise) * spikes(rng, n, 0.003, 1.5) * (1 + effect * profile)
        return np.maximum(value, 0.1)
    base = rng.uniform(0.15, 0.4)
    if saturating:
        peak = 0.97 if spec.role == "saturation" else 0.92
        recover = np.where(
            t > story.recovery[spec.service].timestamp(),
            np.exp(-np.clip(t - story.recovery[spec.service].timestamp(), 0, None) / story.recovery_s),
            1.0,
        )
        level = base + (peak - base) * ramp
        value = level * recover + (1 - recover) * (level / 2) + 0.01 * noise
    else:
        shape = np.sqrt(diurnal * growth) if spec.role == "cpu" else 1.0
        value = base * shape * (1 + 0.05 * noise) * (1 + effect * profile)
    return np.clip(value, 0.0, 1.0)
