"""Benchmark: data-quality checks with Great Expectations against the same checks in plain pandas (the floor).

Usage: python bench/quality.py [--out bench/out] [--repeat 5]
Generates (once) a typical incident (about 50k records) and a large one (1M log lines, 200 metric series
x 10k points, 5k commits, 1k deploys), then prints, per bundle, the cold first call (GX import, context and
suites), the warm median of check_quality, the plain-pandas floor and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from connectors.bundle import LINE, Bundle, incident_window, load_bundle
from postmortem.model import ACTION_TYPES, ALERT_STATUSES, CHANGE_KINDS, DEPLOY_STATUSES, LOG_LEVELS
from tasks.quality import EXAMPLES, SHA_REGEX, actions_frame, check_quality

SIZES = {
    "typical": ["--log-lines", "31000", "--commits", "500", "--deploys", "100"],
    "large": [
        "--log-lines",
        "1000000",
        "--metric-series",
        "200",
        "--points",
        "10000",
        "--commits",
        "5000",
        "--deploys",
        "1000",
    ],
}


def floor(bundle: Bundle) -> dict[tuple[str, str], tuple[int, list[int]]]:
    """The same checks in plain pandas: (source, check) -> (unexpected count, first example lines)."""
    start, end = (pd.Timestamp(t) for t in incident_window(bundle.incident))
    out: dict[tuple[str, str], tuple[int, list[int]]] = {}

    def record(name: str, check: str, frame: pd.DataFrame, bad: pd.Series) -> None:
        out[(name, check)] = (int(bad.sum()), frame.loc[bad, LINE].head(EXAMPLES).tolist())

    frames = dict(bundle.frames, actions=actions_frame(bundle.actions))
    keys = {"alerts": "id", "commits": "sha", "deploys": "id", "tickets": "key"}
    sets = {
        ("alerts", "status"): ALERT_STATUSES,
        ("deploys", "status"): DEPLOY_STATUSES,
        ("deploys", "kind"): CHANGE_KINDS,
        ("actions", "type"): ACTION_TYPES,
    }
    for name, frame in frames.items():
        if frame.empty:
            continue
        if "ts" in frame.columns:
            ts = frame["ts"]
            record(name, "ts_not_null", frame, ts.isna())
            record(name, "ts_in_window", frame, ts.notna() & ((ts < start) | (ts > end)))
        if name in keys:
            key = frame[keys[name]]
            record(name, f"{keys[name]}_not_null", frame, key.isna())
            record(name, f"{keys[name]}_unique", frame, key.notna() & key.duplicated(keep=False))
        for (dataset, column), allowed in sets.items():
            if dataset == name:
                values = frame[column]
                record(name, f"{column}_in_set", frame, values.notna() & ~values.isin(allowed))
        if name in ("commits", "deploys"):
            sha = frame["sha"].astype("string")
            record(name, "sha_format", frame, sha.notna() & ~sha.str.fullmatch(SHA_REGEX).fillna(False))
        if name == "logs":
            level = frame["level"].astype("string").str.lower()
            record(name, "level_in_set", frame, level.notna() & ~level.isin(LOG_LEVELS))
        if name == "alerts":
            both = frame["ends_at"].notna() & frame["ts"].notna()
            record(name, "ends_after_start", frame, both & (frame["ends_at"] < frame["ts"]))
        if name == "metrics":
            for column in ("service", "metric"):
                record(name, f"{column}_not_null", frame, frame[column].isna())
            key = frame[["ts", "service", "metric"]]
            record(name, "one_value_per_ts", frame, key.duplicated(keep=False))
            raw = frame["value_raw"] if "value_raw" in frame.columns else pd.Series(None, index=frame.index)
            record(name, "value_numeric", frame, raw.notna())
    return out


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ensure(path: Path, size: str) -> Path:
    """Generate the bundle once (in a child process)."""
    if not (path / "incident.json").exists():
        cmd = [sys.executable, "-m", "postmortem.cli", "generate", str(path), "--seed", "7", *SIZES[size]]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def main() -> None:
    """Print cold, warm and floor timings for the typical and the large bundle, and for 1M log lines alone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bundles = {size: load_bundle(ensure(args.out / f"quality-{size}", size)) for size in SIZES}
    large = bundles["large"]
    bundles["logs-1M"] = Bundle(
        large.incident, {"logs": large.frames["logs"]}, present={"incident.json", "logs.jsonl"}
    )
    start = time.perf_counter()
    check_quality(bundles["typical"])
    print(f"cold first call (GX import, context, suites) on typical: {time.perf_counter() - start:.2f} s")
    for size, bundle in bundles.items():
        records = sum(len(f) for f in bundle.frames.values())
        counts = {(r.source, r.check): r.unexpected_count for r in check_quality(bundle)}
        mismatched = {k: (counts.get(k), v[0]) for k, v in floor(bundle).items() if counts.get(k) != v[0]}
        if mismatched:
            raise SystemExit(f"GX and the pandas floor disagree on {size}: {mismatched}")
        gx_s = timed(lambda b=bundle: check_quality(b), args.repeat)
        floor_s = timed(lambda b=bundle: floor(b), args.repeat)
        print(
            f"{size:<8} {records:>9} records  check_quality {gx_s:6.3f} s  "
            f"pandas floor {floor_s:6.3f} s  ratio {gx_s / floor_s:5.1f}x"
        )


if __name__ == "__main__":
    main()
