"""`postmortem run` and `postmortem audit-log verify` through the CLI entry point."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from postmortem.cli import main
from tests.conftest import EXAMPLES

DEMO = EXAMPLES / "bad-deploy-rollback"


def test_run_publishes_then_audit_log_verify_detects_tampering(
    prefect_harness, data_dir: Path, capsys
) -> None:
    assert main(["run", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "Report     v1 (new version)" in out and "engineering.html" in out

    assert main(["audit-log", "verify"]) == 0
    intact = capsys.readouterr().out
    assert "audit log intact" in intact

    db = sqlite3.connect(data_dir / "postmortem.db")
    with db:  # an intruder with DDL rights: drop the append-only triggers, rewrite history
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    db.close()
    assert main(["audit-log", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().err


def test_run_on_broken_bundle_exits_2_without_traceback(data_dir: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "incident.json").write_text('{"id": "INC-1", "severity": "SEV9"}')
    assert main(["run", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert "incident.json" in err and "severity" in err and "Traceback" not in err
