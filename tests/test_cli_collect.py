"""`postmortem collect` and `postmortem connectors list` through the CLI entry point, on git and Loki."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from postmortem.cli import main
from tests.connectors.fake_loki import QUERY_RANGE, FakeLoki, Stream, ns
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.gitrepo import GitRepo

T0 = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
INCIDENT = {"id": "INC-CLI", "severity": "SEV3", "started_at": T0.isoformat(), "resolved_at": T0.isoformat()}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A git repository with one commit in the window, a fake Loki, incident.json and postmortem.toml."""
    monkeypatch.setenv("LOKI_TOKEN", "cli-s3cret-token")
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("api: tweak", {"api/main.py": "X = 1\n"}, when=T0 - timedelta(minutes=20))
    (tmp_path / "incident.json").write_text(json.dumps(INCIDENT))
    with FakeServer() as loki:
        streams = [Stream({"service": "api"}, [(ns(T0), "ERROR boom"), (ns(T0) + 1, "INFO ok")])]
        loki.route("GET", QUERY_RANGE, FakeLoki({'{job=~".+"}': streams}))
        toml = tmp_path / "postmortem.toml"
        toml.write_text(
            f'[connectors.repo]\ntype = "git"\npath = "{repo.path}"\nservices = {{ api = ["api/**"] }}\n'
            f'[connectors.logs]\ntype = "loki"\nurl = "{loki.url}"\nbackoff = 0\nretries = 0\n'
            'bearer_token = { env = "LOKI_TOKEN" }\n'
            'queries = [{ name = "all", logql = \'{job=~".+"}\' }]\n'
        )
        yield tmp_path, loki


def test_collect_exit_codes_complete_partial_and_bad_input(setup, capsys: pytest.CaptureFixture) -> None:
    tmp_path, loki = setup
    args = ["--config", str(tmp_path / "postmortem.toml")]
    assert main(["collect", str(tmp_path / "incident.json"), *args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "ok     repo/commits" in out and "ok     logs/logs" in out and "complete: bundle written" in out
    assert [json.loads(x)["level"] for x in (tmp_path / "a" / "logs.jsonl").read_text().splitlines()] == [
        "error",
        "info",
    ]
    (commit,) = [json.loads(x) for x in (tmp_path / "a" / "commits.jsonl").read_text().splitlines()]
    assert commit["service"] == "api" and commit["message"] == "api: tweak"

    # a bundle directory works as INCIDENT too; Loki refusing the token makes the collection partial
    loki.route("GET", QUERY_RANGE, Reply(401, body="unauthorized cli-s3cret-token\n"))
    assert main(["collect", str(tmp_path / "a"), *args, "--out", str(tmp_path / "b")]) == 3
    captured = capsys.readouterr()
    assert "error  logs/logs" in captured.out and "partial: bundle written" in captured.out
    assert "cli-s3cret-token" not in captured.out + captured.err
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["status"] == "partial" and "cli-s3cret-token" not in json.dumps(manifest)

    (tmp_path / "postmortem.toml").write_text('[connectors.repo]\ntype = "git"\npath = "/no/such/repo"\n')
    assert main(["collect", str(tmp_path / "incident.json"), *args, "--out", str(tmp_path / "c")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        "postmortem collect: postmortem.toml [connectors.repo] field 'path': /no/such/repo"
    )

    (tmp_path / "postmortem.toml").write_text("")
    assert main(["collect", "INC-404", *args, "--out", str(tmp_path / "c")]) == 2
    assert "INC-404: no such incident.json file or bundle directory" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_connectors_list_shows_loki_and_git(capsys: pytest.CaptureFixture) -> None:
    assert main(["connectors", "list", "--json"]) == 0
    types = {t["type"]: t for t in json.loads(capsys.readouterr().out)}
    assert types["loki"]["capabilities"] == ["logs"] and types["git"]["capabilities"] == ["commits"]
    loki_fields = {f["name"]: f for f in types["loki"]["fields"]}
    assert loki_fields["bearer_token"]["secret"] and loki_fields["password"]["secret"]
    assert loki_fields["limit"]["default"] == 5000 and not loki_fields["tenant"]["secret"]
    assert {f["name"] for f in types["git"]["fields"]} >= {"path", "branches", "services"}
    assert main(["connectors", "list"]) == 0
    assert "loki  [logs]" in capsys.readouterr().out
