"""`postmortem generate`: write a generated incident bundle and print where its ground truth is."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from postmortem.generator.examples import EXAMPLES_DIR, make_examples
from postmortem.generator.generate import GROUND_TRUTH, SOURCES, generate_incident
from postmortem.generator.scenarios import SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `postmortem generate`."""
    parser = argparse.ArgumentParser(prog="postmortem generate", description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", help="bundle directory to write")
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="bad_deploy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-lines", type=int, default=5000)
    parser.add_argument("--metric-series", type=int, help="number of metric series (default: one per signal)")
    parser.add_argument("--points", type=int, help="points per metric series (default: one a minute)")
    parser.add_argument("--commits", type=int, help="number of commits (default: drawn from the seed)")
    parser.add_argument("--deploys", type=int, help="number of change records (default: drawn from the seed)")
    parser.add_argument("--incident-id", help="incident id (default: drawn from the seed)")
    parser.add_argument(
        "--drop", action="append", default=[], choices=SOURCES, help="leave this source out (repeatable)"
    )
    parser.add_argument(
        "--examples",
        action="store_true",
        help=f"regenerate the shipped examples (into OUT or {EXAMPLES_DIR})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a bundle (or the shipped examples) and print the ground-truth path(s)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.examples:
        root = args.out or EXAMPLES_DIR
        for name in make_examples(root):
            print(root / name / GROUND_TRUTH)
        return 0
    if args.out is None:
        parser.error("OUT is required unless --examples is given")
    generate_incident(
        args.out,
        args.scenario,
        seed=args.seed,
        log_lines=args.log_lines,
        metric_series=args.metric_series,
        points_per_series=args.points,
        commits=args.commits,
        deploys=args.deploys,
        incident_id=args.incident_id,
        drop_sources=args.drop,
    )
    print(args.out / GROUND_TRUTH)
    return 0
