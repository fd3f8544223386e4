"""Benchmark: the data-quality checks with Great Expectations against the same checks in plain pandas.

Usage: python bench/quality.py [--out bench/out] [--repeat 5]

Generates (once) a typical incident (about 50k records) and a large one (1M log lines, 200 metric series
x 10k points, 5k commits, 1k deploys), plus the large one's 1M log lines alone. Per bundle it prints
medians of `--repeat` warm runs, wall and CPU seconds:
- `check_quality`: every dataset suite (prepare the GX input, validate, build the results);
- `gx`: the GX validations alone (the `Validator` calls, data already prepared);
- `floor`: the same checks in plain pandas, with the same unexpected counts (asserted);
- ratios: check_quality / floor, gx / floor, and the project's own share (check_quality - gx) / floor;
- `cross`: the cross-source checks; `analysis`: the whole `analyze()`, and validation's share of it.
CPU seconds are shown because the figures are taken on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.bundle import Bundle, incident_window, load_bundle
from tasks.analyze import analyze
from tasks.clean import clean_frames
from tasks.onset import detect_onsets
from tasks.quality import QualitySettings, actions_frame, build_policy, check_quality, cross_source_checks
from tasks.quality import validate as qv
from tasks.quality.runner import runner
from tasks.quality.suites import incident_period

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
Counts = dict[tuple[str, str], int]


def floor(bundle: Bundle, settings: QualitySettings) -> Counts:
    """The dataset checks in plain pandas: (dataset, check) -> unexpected count."""
    v, m = settings.values, settings.metrics
    start, end = (pd.Timestamp(t) for t in incident_window(bundle.incident, settings.window.before))
    stamps = [t for t in bundle.incident.milestones().values() if t is not None]
    first, last = pd.Timestamp(min(stamps)), pd.Timestamp(max(stamps))
    out: Counts = {}
    frames = dict(bundle.frames, actions=actions_frame(bundle.actions))
    sets = {
        "alerts": {"status": v.alert_statuses},
        "logs": {"level": v.log_levels},
        "deploys": {
            "status": v.deploy_statuses,
            "kind": v.deploy_kinds,
            "environment": v.deploy_environments,
        },
        "tickets": {"status": v.ticket_statuses},
        "actions": {"type": v.action_types},
    }
    keys = {"alerts": "id", "commits": "sha", "deploys": "id", "tickets": "key"}
    not_null = {"alerts": ["service"], "logs": ["service"], "commits": ["service"], "chat": ["text"]}
    not_null["deploys"] = ["environment", "service"]
    for name, frame in frames.items():
        if frame.empty:
            continue
        put = out.__setitem__
        if "ts" in frame.columns:
            ts = frame["ts"]
            put((name, "ts_in_window"), int((ts.notna() & ((ts < start) | (ts > end))).sum()))
        if name in keys:
            key = frame[keys[name]]
            put((name, f"{keys[name]}_unique"), int((key.notna() & key.duplicated(keep=False)).sum()))
        for column, allowed in sets.get(name, {}).items():
            values = frame[column].astype("string")
            if name == "logs":
                values = values.str.lower()
            put((name, f"{column}_in_set"), int((values.notna() & ~values.isin(allowed)).sum()))
        for column in not_null.get(name, []):
            put((name, f"{column}_not_null"), int(frame[column].isna().sum()))
        if name in ("commits", "deploys"):
            sha = frame["sha"].astype("string")
            put(
                (name, "sha_format"), int((sha.notna() & ~sha.str.fullmatch(v.sha_regex).fillna(False)).sum())
            )
        if name == "alerts":
            late = frame["ends_at"].notna() & frame["ts"].notna() & (frame["ends_at"] < frame["ts"])
            put((name, "ends_after_start"), int(late.sum()))
        if name == "metrics":
            out |= _metric_floor(frame, (first, last), m.max_gap_intervals, m.coverage_slack_intervals)
    return out


def _metric_floor(
    frame: pd.DataFrame, period: tuple[pd.Timestamp, pd.Timestamp], gap: float, slack: float
) -> Counts:
    """Duplicates, non-numeric values, scrape gaps and coverage of the incident, in plain pandas."""
    dup = frame.duplicated(["ts", "service", "metric"], keep=False)
    raw = frame["value_raw"] if "value_raw" in frame.columns else pd.Series(None, index=frame.index)
    samples = frame.loc[frame["value"].notna(), ["service", "metric", "ts"]].sort_values(
        ["service", "metric", "ts"]
    )
    groups = samples.groupby(["service", "metric"], sort=False)["ts"]
    step = groups.diff().dt.total_seconds()
    spacing = step.groupby([samples["service"], samples["metric"]], sort=False).transform("median")
    ends = groups.agg(["min", "max"])
    interval = step.groupby([samples["service"], samples["metric"]], sort=False).median()
    missed = np.maximum(
        (ends["min"] - period[0]).dt.total_seconds(), (period[1] - ends["max"]).dt.total_seconds()
    )
    return {
        ("metrics", "one_value_per_ts"): int(dup.sum()),
        ("metrics", "value_numeric"): int(raw.notna().sum()),
        ("metrics", "no_scrape_gap"): int((step / spacing > gap).sum()),
        ("metrics", "covers_incident"): int((missed.clip(lower=0) / interval > slack).sum()),
    }


def gx_only(bundle: Bundle, settings: QualitySettings) -> Callable[[], None]:
    """A call running only the GX validations, on inputs prepared once beforehand."""
    policy = build_policy(settings)
    window = incident_window(bundle.incident, settings.window.before, settings.window.after)
    period = incident_period(bundle.incident)
    params = {qv.WINDOW_START: qv._naive_utc(window[0]), qv.WINDOW_END: qv._naive_utc(window[1])}
    frames = dict(bundle.frames, actions=actions_frame(bundle.actions))
    prepared = []
    for name, checks in qv.dataset_checks(settings).items():
        if frames.get(name) is None or frames[name].empty:
            continue
        checks = [policy.apply(name, c) for c in checks]
        prepared.append((name, checks, qv.gx_input(name, frames[name], checks, period, settings)))

    def run() -> None:
        for name, checks, data in prepared:
            runner().validate(name, checks, data, params, settings.examples)

    return run


def timed(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of `repeat` calls of each function, interleaved (load drifts apart)."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in fns}


def ensure(path: Path, size: str) -> Path:
    """Generate the bundle once (in a child process)."""
    if not (path / "incident.json").exists():
        cmd = [sys.executable, "-m", "postmortem.cli", "generate", str(path), "--seed", "7", *SIZES[size]]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def main() -> None:
    """Print the figures for the typical bundle, the large one and its 1M log lines alone."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = QualitySettings()
    bundles = {size: load_bundle(ensure(args.out / f"quality-{size}", size)) for size in SIZES}
    large = bundles["large"]
    bundles["logs-1M"] = Bundle(
        large.incident, {"logs": large.frames["logs"]}, present={"incident.json", "logs.jsonl"}
    )
    start = time.perf_counter()
    check_quality(bundles["typical"], settings=settings)
    print(f"cold first call (GX import, context, suites): {time.perf_counter() - start:.2f} s")
    print("medians, wall s / CPU s; ratios on CPU time")
    for size, bundle in bundles.items():
        records = sum(len(f) for f in bundle.frames.values())
        counts = {(r.source, r.check): r.unexpected_count for r in check_quality(bundle, settings=settings)}
        expected = floor(bundle, settings)
        wrong = {k: (counts.get(k), n) for k, n in expected.items() if counts.get(k) != n}
        if wrong:
            raise SystemExit(f"GX and the pandas floor disagree on {size} (gx, floor): {wrong}")
        fns: dict[str, Callable[[], object]] = {
            "check_quality": lambda b=bundle: check_quality(b, settings=settings),
            "gx": gx_only(bundle, settings),
            "floor": lambda b=bundle: floor(b, settings),
        }
        steps: dict[str, float] = {}
        if size != "logs-1M":
            frames, _ = clean_frames(bundle.frames, bundle.incident)
            onsets = detect_onsets(frames["metrics"], bundle.incident)
            policy = build_policy(settings)
            fns["cross"] = lambda f=frames, b=bundle, o=onsets, p=policy: cross_source_checks(
                f, b.incident, o, settings, p
            )
            fns["analysis"] = lambda b=bundle, s=steps: analyze(b, timings=s)
        t = timed(fns, args.repeat)
        full, gx, base = t["check_quality"], t["gx"], t["floor"]
        print(
            f"{size:<8} {records:>9,} records  check_quality {full[0]:6.3f} / {full[1]:6.3f}  "
            f"gx {gx[0]:6.3f} / {gx[1]:6.3f}  floor {base[0]:6.3f} / {base[1]:6.3f}  "
            f"ratio {full[1] / base[1]:4.1f}x (gx {gx[1] / base[1]:4.1f}x, "
            f"ours {(full[1] - gx[1]) / base[1]:4.1f}x)"
        )
        if steps:
            cross, whole = t["cross"], t["analysis"]
            share = steps["quality"] / sum(steps.values())
            print(
                f"{'':<8} cross-source {cross[0]:6.3f} / {cross[1]:6.3f}  analysis {whole[0]:6.3f} / "
                f"{whole[1]:6.3f}  validation share of analyze() {share:5.1%}"
            )


if __name__ == "__main__":
    main()
