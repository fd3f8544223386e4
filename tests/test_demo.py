"""The README's first command: `postmortem demo` in a fresh data directory, twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postmortem.cli", "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_demo_runs_end_to_end_in_ephemeral_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTMORTEM_", "PREFECT_API"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    first = _demo(tmp_path, env)
    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    for label in ("Incident", "Root cause", "Durations", "Actions", "Tickets", "Report"):
        assert label in out
    reports = [Path(line.strip()) for line in out.splitlines() if line.strip().endswith((".md", ".html"))]
    assert len(reports) == 2 and all(p.is_file() for p in reports)
    assert reports[0].is_relative_to(tmp_path / ".postmortem")
    assert "confidence high" in out or "confidence medium" in out

    second = _demo(tmp_path, env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Tickets    0 created" in second.stdout
    assert "unchanged, same version" in second.stdout
