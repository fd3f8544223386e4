"""Ranking and calibration metrics of the evaluation harness (definitions as in RCAEval, Pham et al. 2025).

- AC@k: share of cases whose true root cause is among the first k answers.
- Avg@k: mean of AC@1 .. AC@k.
- false attribution rate: share of incidents with no change involved where a change is still blamed.
- band precision: per confidence band, the share of answers given with that band that are right.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

BANDS = ("high", "medium", "low")


def rank_of(ranked: Sequence[str], truth: Collection[str]) -> int | None:
    """1-based position of the first answer in `truth` (None when no answer is)."""
    return next((i for i, answer in enumerate(ranked, start=1) if answer in truth), None)


def ac_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of cases whose truth is ranked within the first `k` (NaN for no cases)."""
    if not ranks:
        return float("nan")
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def avg_at_k(ranks: Sequence[int | None], k: int = 5) -> float:
    """Mean of AC@1 .. AC@k."""
    return sum(ac_at_k(ranks, j) for j in range(1, k + 1)) / k


def rate(flags: Sequence[bool]) -> float:
    """Share of true flags (NaN for none), e.g. the false attribution rate over no-change incidents."""
    return sum(flags) / len(flags) if flags else float("nan")


def band_precision(answers: Iterable[tuple[str, bool]]) -> dict[str, tuple[float, int]]:
    """Per band: (share of right answers, number of answers) over (band, right) pairs."""
    counts = {band: [0, 0] for band in BANDS}
    for band, right in answers:
        counts.setdefault(band, [0, 0])
        counts[band][0] += int(right)
        counts[band][1] += 1
    return {band: (right / n if n else float("nan"), n) for band, (right, n) in counts.items()}


def lowest_threshold(
    scored: Iterable[tuple[float, bool]], target: float, min_support: int = 10
) -> float | None:
    """Smallest score t such that answers scoring >= t', for every t' >= t with support, are right at
    least `target` of the time (None when no threshold reaches it with `min_support` answers)."""
    pairs = sorted(scored, key=lambda p: -p[0])
    best: float | None = None
    right = 0
    worst_from_top = 1.0
    for n, (score, ok) in enumerate(pairs, start=1):
        right += int(ok)
        if n >= min_support:
            worst_from_top = min(worst_from_top, right / n)
            if worst_from_top >= target and (n == len(pairs) or pairs[n][0] < score):
                best = score
    return best
