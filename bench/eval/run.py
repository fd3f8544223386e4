"""Evaluation harness for the root-cause signals: `python -m bench.eval.run --cases 200`.

Generates labelled incidents (bench/eval/cases.py), analyses each one with the real pipeline
(`tasks.analyze.analyze`, data-quality checks skipped), runs the baselines on the same bundles and prints
AC@1, AC@3 and Avg@5 for changes and services, the false attribution rate on incidents with no change
involved, the precision of each confidence band, breakdowns and the time per case.

Splits: thresholds are tuned on `--split tune` (base seed 1) only; figures are reported on
`--split heldout` (base seed 2, the default). `--seed N` picks another base seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.eval.baselines_changes import last_deploy_rank, nearest_change_rank
from bench.eval.cases import SPLITS, CaseSpec, build_case, case_specs
from bench.eval.metrics import BANDS, ac_at_k, avg_at_k, band_precision, lowest_threshold, rank_of, rate
from connectors.bundle import Bundle
from postmortem.generator import SCENARIOS
from tasks.analyze import analyze

NOW = datetime(2027, 1, 1, tzinfo=UTC)
Ranker = Callable[[Bundle], list[str]]


def _service_baselines() -> dict[str, Ranker | None]:
    """NSigma and BARO from bench/eval/service_baselines.py (None while that module is missing)."""
    try:
        from bench.eval import service_baselines
    except ImportError:
        return {"NSigma": None, "BARO": None}
    return {
        "NSigma": getattr(service_baselines, "nsigma_rank", None),
        "BARO": getattr(service_baselines, "baro_rank", None),
    }


@dataclass
class CaseResult:
    """What the harness keeps of one case."""

    number: int
    scenario: str
    tags: list[str]
    expectation: str
    root_service: str
    verdict: str
    change_ranks: dict[str, int | None]  # method -> rank of the culprit (change cases)
    blamed: dict[str, bool]  # method -> whether it blamed a change at all
    service_ranks: dict[str, int | str | None]  # method -> rank of the root service, "n/a" if unavailable
    candidates: list[tuple[str, bool, float]] = field(default_factory=list)  # (band, right, score)
    requests: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def attributed(self) -> bool:
        """Whether the analysis blamed a change (verdict "change")."""
        return self.blamed["ours"]

    @property
    def top_right(self) -> bool:
        """Whether the top-ranked change is the culprit."""
        return self.change_ranks.get("ours") == 1


def run_case(spec: CaseSpec) -> CaseResult:
    """Generate, analyse and score one case (runs in a worker process)."""
    with tempfile.TemporaryDirectory(prefix="pm-eval-") as tmp:
        start = time.perf_counter()
        bundle, lab = build_case(spec, Path(tmp) / "bundle")
        generated = time.perf_counter()
        steps: dict[str, float] = {}
        analysis = analyze(bundle, quality=[], now=NOW, timings=steps)
        analysed = time.perf_counter()
        rc = analysis.root_cause
        lists = {
            "ours": [c.id for c in rc.changes],
            "last deploy": last_deploy_rank(bundle),
            "nearest change": nearest_change_rank(bundle),
        }
        change_ranks = {method: rank_of(ranked, lab.culprit_ids) for method, ranked in lists.items()}
        # the baselines blame their first answer; ours blames a change only with the verdict "change"
        blamed = {method: bool(ranked) for method, ranked in lists.items()}
        blamed["ours"] = rc.verdict == "change"
        truth = {lab.root_service}
        service_ranks: dict[str, int | str | None] = {
            "ours": rank_of([s.service for s in rc.services], truth)
        }
        for name, ranker in _service_baselines().items():
            service_ranks[name] = "n/a" if ranker is None else rank_of(ranker(bundle), truth)
        done = time.perf_counter()
    return CaseResult(
        number=spec.number,
        scenario=spec.scenario,
        tags=spec.tags,
        expectation=lab.expectation,
        root_service=lab.root_service,
        verdict=rc.verdict,
        change_ranks=change_ranks,
        blamed=blamed,
        service_ranks=service_ranks,
        candidates=[(c.confidence, c.id in lab.culprit_ids, c.score) for c in rc.changes],
        requests=list(rc.evidence_requests),
        seconds={
            "generate": generated - start,
            "analyse": analysed - generated,
            "changes": steps.get("changes", 0.0),
            "baselines": done - analysed,
        },
    )


# ---------------------------------------------------------------- report


def _fmt(value: float) -> str:
    return "  n/a" if value != value else f"{value:5.2f}"  # NaN check


def _pct(value: float) -> str:
    return "   n/a" if value != value else f"{100 * value:5.1f}%"


def _change_rows(results: Sequence[CaseResult], expectations: tuple[str, ...], title: str) -> list[str]:
    changed = [r for r in results if r.expectation in expectations]
    no_change = [r for r in results if r.expectation == "no_change"]
    rows = []
    for method in ("ours", "last deploy", "nearest change"):
        ranks = [r.change_ranks[method] for r in changed]
        blamed = [r.blamed[method] for r in no_change]
        rows.append(
            f"  {title:<10}{method:<15}{_fmt(ac_at_k(ranks, 1))}  {_fmt(ac_at_k(ranks, 3))}  "
            f"{_fmt(avg_at_k(ranks, 5))}   {_pct(rate(blamed))}"
        )
    return rows


def _service_rows(results: Sequence[CaseResult]) -> list[str]:
    rows = []
    for method in results[0].service_ranks if results else ():
        values = [r.service_ranks[method] for r in results]
        if any(v == "n/a" for v in values):
            rows.append(
                f"  services  {method:<15}  n/a    n/a    n/a   (bench/eval/service_baselines.py missing)"
            )
            continue
        ranks = [v for v in values if not isinstance(v, str)]
        figures = f"{_fmt(ac_at_k(ranks, 1))}  {_fmt(ac_at_k(ranks, 3))}  {_fmt(avg_at_k(ranks, 5))}"
        rows.append(f"  services  {method:<15}{figures}")
    return rows


def _breakdown(results: Sequence[CaseResult], key: Callable[[CaseResult], list[str]]) -> list[str]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        for name in key(r):
            groups.setdefault(name, []).append(r)
    rows = [
        f"  {'group':<24}{'n':>4}  {'ours':>6}{'last':>6}{'near':>6}  {'false attr':>10}  {'svc AC@1':>8}"
    ]
    for name in sorted(groups):
        group = groups[name]
        changed = [r for r in group if r.expectation == "change"]
        no_change = [r for r in group if r.expectation == "no_change"]
        acc = [
            _fmt(ac_at_k([r.change_ranks[m] for r in changed], 1))
            for m in ("ours", "last deploy", "nearest change")
        ]
        svc = ac_at_k([r.service_ranks["ours"] for r in group], 1)  # type: ignore[misc]
        rows.append(
            f"  {name:<24}{len(group):>4}  {acc[0]:>6}{acc[1]:>6}{acc[2]:>6}  "
            f"{_pct(rate([r.attributed for r in no_change])):>10}  {_fmt(svc):>8}"
        )
    return rows


def _asks_for_deploys(result: CaseResult) -> bool:
    return any("no deploy data" in request for request in result.requests)


def report(results: Sequence[CaseResult], wall: float, jobs: int, split: str) -> str:
    """The harness table, band precision, breakdowns and timings as text."""
    kinds = ("change", "commit_only", "no_change", "unobservable")
    counts = {e: sum(r.expectation == e for r in results) for e in kinds}
    changed = [r for r in results if r.expectation == "change"]
    no_change = [r for r in results if r.expectation == "no_change"]
    hidden = [r for r in results if r.expectation == "unobservable"]
    lines = [
        f"cases {len(results)} ({split}): culprit change recorded {counts['change']}, culprit only in its "
        f"commits {counts['commit_only']}, no change involved {counts['no_change']}, culprit missing from "
        f"the data {counts['unobservable']}",
        "",
        f"  {'':<10}{'method':<15}{'AC@1':>5}  {'AC@3':>5}  {'Avg@5':>5}   false attribution (no-change)",
        *_change_rows(results, ("change",), "changes"),
        *_service_rows(results),
        "  culprit's change record missing, only its commits left:",
        *_change_rows(results, ("commit_only",), "commits"),
        "",
        "  decisions: "
        f"right change blamed {_pct(rate([r.attributed and r.top_right for r in changed]))} of change cases; "
        f"no change blamed {_pct(rate([not r.attributed for r in no_change]))} of no-change cases; "
        f"abstained {_pct(rate([not r.attributed for r in hidden]))} when the culprit is missing "
        f"(asked for deploy data {_pct(rate([_asks_for_deploys(r) for r in hidden]))})",
        "",
        "  band precision (ours)   top answer           every candidate",
    ]
    top = band_precision((r.candidates[0][0], r.candidates[0][1]) for r in results if r.candidates)
    every = band_precision((band, right) for r in results for band, right, _ in r.candidates)
    targets = {"high": ">= 90%", "medium": ">= 60%", "low": "no promise"}
    for band in BANDS:
        (p_top, n_top), (p_all, n_all) = top[band], every[band]
        lines.append(
            f"    {band:<8}{targets[band]:<12}{_pct(p_top)} of {n_top:<5}     {_pct(p_all)} of {n_all:<5}"
        )
    lines += ["", "  by scenario (change AC@1 per method; false attribution; service AC@1)"]
    lines += _breakdown(results, lambda r: [r.scenario])
    lines += ["", "  by perturbation"]
    lines += _breakdown(results, lambda r: r.tags)
    lines += ["", "  time per case (s)      mean  median     p90"]
    for step in ("generate", "analyse", "changes", "baselines"):
        values = sorted(r.seconds[step] for r in results)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        lines.append(
            f"    {step:<18}{statistics.mean(values):8.3f}{statistics.median(values):8.3f}{p90:8.3f}"
        )
    lines.append(f"  wall {wall:.1f} s for {len(results)} cases on {jobs} worker(s)")
    return "\n".join(lines)


def calibration(results: Sequence[CaseResult]) -> str:
    """What each score threshold would give (run on the tuning split only): the false attribution rate on
    no-change incidents and the share of change incidents blamed on the right change, if the verdict
    threshold were t; the precision of every candidate scoring at least t; and the lowest thresholds
    whose answers are right 90% (high) and 60% (medium) of the time."""
    no_change = [r for r in results if r.expectation == "no_change"]
    changed = [r for r in results if r.expectation == "change"]
    top = {id(r): r.candidates[0] if r.candidates else ("low", False, 0.0) for r in results}
    scored = [(score, right) for r in results for _, right, score in r.candidates]
    lines = ["  threshold  false attribution  right change blamed  precision of scores >= t"]
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        blamed = rate([top[id(r)][2] >= t for r in no_change])
        right = rate([top[id(r)][2] >= t and top[id(r)][1] for r in changed])
        precision = rate([ok for score, ok in scored if score >= t])
        lines.append(f"  {t:9.2f}  {_pct(blamed):>17}  {_pct(right):>19}  {_pct(precision):>24}")
    high = lowest_threshold(scored, 0.9)
    medium = lowest_threshold([p for p in scored if high is None or p[0] < high], 0.6)
    lines.append(f"  lowest thresholds reaching the targets: high {high}, medium {medium}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness and print the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval.run", description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--split", choices=list(SPLITS), default="heldout")
    parser.add_argument("--seed", type=int, help="base seed (overrides --split)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="only these (repeatable)"
    )
    parser.add_argument("--calibrate", action="store_true", help="also print suggested band thresholds")
    parser.add_argument("--json", type=Path, help="write every case's result to this file")
    args = parser.parse_args(argv)
    base = args.seed if args.seed is not None else SPLITS[args.split]
    split = f"split {args.split}, base seed {base}" if args.seed is None else f"base seed {base}"
    specs = case_specs(args.cases, base, args.scenario)
    start = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(run_case, specs, chunksize=4))
    else:
        results = [run_case(spec) for spec in specs]
    wall = time.perf_counter() - start
    print(report(results, wall, args.jobs, split))
    if args.calibrate:
        print(calibration(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
