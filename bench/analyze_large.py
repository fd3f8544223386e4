"""Benchmark: analyse a generated large incident (DESIGN 7: under 30 s and 2 GB on 2 cores).

Usage: python bench/analyze_large.py [--log-lines 1000000] [--out bench/out/large] [--regenerate]
Prints the generation, load and analysis wall times, the per-step split and the peak memory (RSS).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from connectors.bundle import load_bundle
from tasks.analyze import analyze


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate (once), load and analyse the large incident; print figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log-lines", type=int, default=1_000_000)
    parser.add_argument("--metric-series", type=int, default=200)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument("--deploys", type=int, default=1_000)
    parser.add_argument("--scenario", default="bad_deploy")
    parser.add_argument("--out", type=Path, default=Path("bench/out/large"))
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    if args.regenerate or not (args.out / "incident.json").exists():
        start = time.perf_counter()
        # in a child process, so that generation does not count in this process' peak memory
        subprocess.run(
            [
                sys.executable,
                "-m",
                "postmortem.cli",
                "generate",
                str(args.out),
                "--scenario",
                args.scenario,
                "--seed",
                "7",
                "--log-lines",
                str(args.log_lines),
                "--metric-series",
                str(args.metric_series),
                "--points",
                str(args.points),
                "--commits",
                str(args.commits),
                "--deploys",
                str(args.deploys),
            ],
            check=True,
        )
        print(f"generate   {time.perf_counter() - start:7.2f} s  -> {args.out}")
    base_rss = peak_rss_mb()
    start = time.perf_counter()
    bundle = load_bundle(args.out)
    load_s = time.perf_counter() - start
    rows = {name: len(frame) for name, frame in bundle.frames.items()}
    timings: dict[str, float] = {}
    start = time.perf_counter()
    analysis = analyze(bundle, timings=timings)
    analyse_s = time.perf_counter() - start
    print(f"records    {rows}")
    print(f"load       {load_s:7.2f} s")
    for step, secs in timings.items():
        print(f"  {step:<9}{secs:7.2f} s")
    print(f"analyse    {analyse_s:7.2f} s")
    print(f"total      {load_s + analyse_s:7.2f} s   (budget 30 s)")
    print(f"peak RSS   {peak_rss_mb():7.0f} MiB (before load {base_rss:.0f} MiB; budget 2048 MiB)")
    top = analysis.root_cause.changes[0].id if analysis.root_cause.changes else "no change implicated"
    print(f"verdict    {analysis.root_cause.verdict}; top change {top}; onset {analysis.onset.service}")


if __name__ == "__main__":
    main()
