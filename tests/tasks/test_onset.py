"""Onset detection on synthetic metric series with a known truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from postmortem.model import Incident, MetricCandidate, Onset
from tasks.onset import detect_onsets, overall_onset

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)  # first sample
STEP = timedelta(minutes=1)
N = 360  # six hours of one-minute samples
IMPACT = 240  # index of the true onset in most tests


def at(i: float) -> datetime:
    """Time of sample `i`."""
    return T0 + i * STEP


def incident(**milestones: Any) -> Incident:
    """An incident recorded as starting at the true onset and resolved an hour later by default."""
    values = {"started_at": at(IMPACT), "detected_at": at(IMPACT + 5), "resolved_at": at(IMPACT + 60)}
    return Incident(id="INC-1", severity="SEV2", **(values | milestones))


def series(service: str, metric: str, values: np.ndarray, start: int = 0) -> pd.DataFrame:
    """One series in the bundle's long format."""
    idx = np.arange(start, start + len(values))
    ts = pd.Series([at(int(i)) for i in idx], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"ts": ts, "service": service, "metric": metric, "value": values.astype(float)})


def noisy(level: float = 100.0, sd: float = 2.0, seed: int = 0, n: int = N) -> np.ndarray:
    """A stationary noisy series."""
    return level + np.random.default_rng(seed).normal(0.0, sd, n)


def frame(*parts: pd.DataFrame) -> pd.DataFrame:
    """Concatenated series."""
    return pd.concat(parts, ignore_index=True)


def only(candidates: list[MetricCandidate], service: str, metric: str = "m") -> MetricCandidate:
    """The candidate of one series."""
    (found,) = [c for c in candidates if (c.service, c.metric) == (service, metric)]
    return found


def test_step_after_noisy_baseline_is_found_within_one_sample() -> None:
    values = noisy()
    values[IMPACT:] += 30  # 15 sigma
    (cand,) = detect_onsets(series("api", "m", values), incident())
    assert abs((cand.onset - at(IMPACT)).total_seconds()) <= STEP.total_seconds()
    assert 0.5 < cand.score < 1.0


def test_recorded_start_late_does_not_hide_the_true_onset() -> None:
    values = noisy()
    values[IMPACT:] += 30
    late = incident(started_at=at(IMPACT + 12), detected_at=at(IMPACT + 14))
    (cand,) = detect_onsets(series("api", "m", values), late)
    assert cand.onset == at(IMPACT)


def test_gradual_ramp_is_found_on_its_way_up() -> None:
    values = noisy(level=10.0, sd=1.0)
    values[IMPACT:] += np.minimum(np.arange(N - IMPACT), 60) * 0.5  # +0.5 sigma a minute, capped
    (cand,) = detect_onsets(series("db", "m", values), incident())
    # 4 sigma (the threshold) is reached after about 8 minutes
    assert at(IMPACT + 4) <= cand.onset <= at(IMPACT + 12)


def test_drop_in_throughput_is_an_onset() -> None:
    values = noisy(level=500, sd=10)
    values[IMPACT:] -= 300
    (cand,) = detect_onsets(series("web", "requests", values), incident())
    assert abs((cand.onset - at(IMPACT)).total_seconds()) <= STEP.total_seconds()


def test_single_spike_is_not_an_onset() -> None:
    flat = np.full(N, 5.0)
    flat[IMPACT + 3] = 500.0
    spiky = noisy(seed=3)
    spiky[IMPACT + 3 : IMPACT + 5] += 80  # two points: shorter than `sustain`
    data = frame(series("a", "flat", flat), series("b", "spiky", spiky))
    assert detect_onsets(data, incident()) == []


def test_flat_series_does_not_explode_on_tiny_changes() -> None:
    values = np.full(N, 100.0)
    values[IMPACT:] = 100.5  # 0.5 %: below the floor relative to the level
    zero = np.zeros(N)
    assert detect_onsets(frame(series("a", "flat", values), series("b", "zero", zero)), incident()) == []


def test_nan_values_are_ignored() -> None:
    values = noisy()
    values[IMPACT:] += 30
    values[::7] = np.nan
    values[IMPACT] = np.nan
    (cand,) = detect_onsets(series("api", "m", values), incident())
    assert cand.onset == at(IMPACT + 1)


def test_duplicate_rows_are_averaged() -> None:
    base = series("api", "m", np.full(N, 10.0) + np.random.default_rng(1).normal(0, 0.1, N))
    # five consecutive points reported twice: 0 and 20 average to the usual 10
    low = base.iloc[IMPACT : IMPACT + 5].assign(value=0.0)
    high = base.iloc[IMPACT : IMPACT + 5].assign(value=20.0)
    data = pd.concat([base.drop(index=range(IMPACT, IMPACT + 5)), low, high], ignore_index=True)
    assert detect_onsets(data, incident()) == []
    # ... and duplicates of a real deviation still date it
    step = noisy()
    step[IMPACT:] += 30
    one = series("api", "m", step)
    (cand,) = detect_onsets(pd.concat([one, one], ignore_index=True), incident())
    assert cand.onset == at(IMPACT)


def test_unsorted_input_and_many_series_are_handled_together() -> None:
    parts = []
    for k in range(40):
        values = noisy(seed=k)
        if k % 4 == 0:
            values[IMPACT + k :] += 30
        parts.append(series(f"svc{k}", "m", values))
    data = frame(*parts).sample(frac=1.0, random_state=7)
    found = {c.service: c.onset for c in detect_onsets(data, incident())}
    assert found == {f"svc{k}": at(IMPACT + k) for k in range(0, 40, 4)}


def test_candidates_are_ranked_by_score_then_onset() -> None:
    big = noisy(seed=1)
    big[IMPACT + 5 :] += 60
    late, early = np.full(N, 100.0), np.full(N, 100.0)  # identical steps: identical scores
    late[IMPACT + 5 :] = 130.0
    early[IMPACT:] = 130.0
    data = frame(series("late", "m", late), series("big", "m", big), series("early", "m", early))
    ranked = detect_onsets(data, incident())
    assert [c.service for c in ranked] == ["big", "early", "late"]
    assert ranked[0].score > ranked[1].score == ranked[2].score


def test_no_milestones_uses_the_first_third_as_baseline() -> None:
    values = noisy()
    values[IMPACT:] += 30
    bare = Incident(id="INC-2", severity="SEV3")
    (cand,) = detect_onsets(series("api", "m", values), bare)
    assert cand.onset == at(IMPACT)


def test_deviation_already_under_way_when_the_search_starts_is_not_dated() -> None:
    values = noisy()
    values[IMPACT - 20 :] += 30  # inside the baseline window, before the guard margin
    assert detect_onsets(series("api", "m", values), incident()) == []


def test_search_stops_at_resolution() -> None:
    values = noisy()
    values[IMPACT + 70 :] += 30  # after the resolution at IMPACT + 60
    assert detect_onsets(series("api", "m", values), incident()) == []


def test_empty_input() -> None:
    empty = pd.DataFrame(
        {"ts": pd.Series(dtype="datetime64[ns, UTC]"), "service": [], "metric": [], "value": []}
    )
    assert detect_onsets(empty, incident()) == []
    assert overall_onset([]) == Onset()


# ---------------------------------------------------------------- overall onset


def cand(service: str, minutes: float, score: float, metric: str = "m") -> MetricCandidate:
    """A metric candidate `minutes` after the true onset."""
    return MetricCandidate(service=service, metric=metric, score=score, onset=at(IMPACT + minutes))


def test_overall_onset_is_the_earliest_significant_series() -> None:
    candidates = [cand("api", 2, 0.9), cand("db", 0, 0.8), cand("noise", -10, 0.34)]
    assert overall_onset(candidates) == Onset(ts=at(IMPACT), service="db", metric="m")


def test_overall_onset_ties_go_to_the_larger_deviation() -> None:
    candidates = [cand("api", 0, 0.6), cand("db", 0, 0.9)]
    assert overall_onset(candidates).service == "db"


def test_overall_onset_of_weak_deviations_only() -> None:
    assert overall_onset([cand("a", 3, 0.2), cand("b", 1, 0.1)]) == Onset()


def test_overall_onset_of_the_root_service_ignores_an_earlier_blip_elsewhere() -> None:
    candidates = [cand("cache", -11, 0.56), cand("pricing", 0, 0.95), cand("pricing", 1, 0.7, "cpu")]
    assert overall_onset(candidates).service == "cache"  # the earliest significant series overall
    assert overall_onset(candidates, "pricing") == Onset(ts=at(IMPACT), service="pricing", metric="m")
    weak_root = [cand("db", 2, 0.2), cand("api", 0, 0.9)]  # the root's only series is not significant
    assert overall_onset(weak_root, "db") == Onset(ts=at(IMPACT + 2), service="db", metric="m")
    assert overall_onset(candidates, "nowhere").service == "cache"  # no series: all services
