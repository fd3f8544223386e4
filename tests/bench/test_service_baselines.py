"""NSigma and BARO (the evaluation harness' service baselines) on bundles written and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench.eval.service_baselines import baro_rank, nsigma_rank, series_scores
from connectors.bundle import load_bundle, write_bundle

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
START = 120  # the incident's recorded start, in minutes after T0


def bundle_with(tmp_path: Path, series: dict[tuple[str, str], np.ndarray]):
    """A bundle whose metrics are the given one-minute series, incident started at START, resolved +60."""
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "ts": [(T0 + timedelta(minutes=i)).isoformat() for i in range(len(values))],
                    "service": service,
                    "metric": metric,
                    "value": values,
                }
            )
            for (service, metric), values in series.items()
        ]
    )
    incident = {
        "id": "INC-1",
        "severity": "SEV2",
        "started_at": (T0 + timedelta(minutes=START)).isoformat(),
        "resolved_at": (T0 + timedelta(minutes=START + 60)).isoformat(),
    }
    return load_bundle(write_bundle(tmp_path / "b", incident, {"metrics": rows}))


def noisy(seed: int, level: float = 100.0, sd: float = 2.0) -> np.ndarray:
    """Three hours of a stationary noisy series."""
    return level + np.random.default_rng(seed).normal(0, sd, 180)


def test_the_largest_rise_after_the_start_ranks_first_and_drops_rank_low(tmp_path: Path) -> None:
    up, small, down, flat = noisy(1), noisy(2), noisy(3), np.full(180, 7.0)
    up[START + 5 :] += 40  # 20 sd
    small[START + 5 :] += 10  # 5 sd
    down[START + 5 :] -= 80  # a drop: the authors' score is the signed maximum, so it ranks last
    flat[START + 5 :] = 50.0  # constant before the start: dropped, as RCAEval's preprocessing does
    bundle = bundle_with(
        tmp_path,
        {("api", "errors"): up, ("db", "latency"): small, ("web", "rps"): down, ("cache", "hits"): flat},
    )
    assert baro_rank(bundle) == ["api", "db", "web"]
    assert nsigma_rank(bundle) == ["api", "db", "web"]
    scores = series_scores(bundle, "median").set_index("service")["score"]
    assert scores["api"] > scores["db"] > 3 > scores["web"]  # the drop scores as noise, not as a deviation


def test_baro_is_robust_to_an_outlier_in_the_normal_window_and_nsigma_is_not(tmp_path: Path) -> None:
    spiky, steady = noisy(4), noisy(5)
    spiky[30] = 5_000.0  # one huge outlier before the incident inflates the standard deviation
    spiky[START + 5 :] += 30
    steady[START + 5 :] += 12
    bundle = bundle_with(tmp_path, {("orders", "errors"): spiky, ("cart", "errors"): steady})
    assert baro_rank(bundle) == ["orders", "cart"]
    assert nsigma_rank(bundle) == ["cart", "orders"]


def test_no_metrics_or_no_start_ranks_nothing(tmp_path: Path) -> None:
    empty = load_bundle(write_bundle(tmp_path / "e", {"id": "INC-2", "severity": "SEV3"}))
    assert baro_rank(empty) == [] and nsigma_rank(empty) == []
