"""git connector against real repositories built in temporary directories (git init, dated commits)."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from connectors.base import Window
from connectors.bundle import load_bundle
from connectors.config import ConfigError, connector_config
from connectors.git import CONNECTOR, GitConfig, GitConnector, GitError, parse_log, run_git, service_map
from postmortem.model import Commit
from tests.connectors.conformance import ConnectorCase, check_records_and_pagination
from tests.connectors.gitrepo import GitRepo

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "git.md"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=2))
SERVICES = {
    "payments": ["services/payments/**"],
    "checkout": ["services/checkout/**", "web/cart/*.ts"],
    "shared": ["lib/", "!lib/docs/**"],
}
BINARY = bytes(range(256)) * 4


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _connector(path: Path, **fields: object) -> GitConnector:
    config = GitConfig.model_validate({"path": path, "services": SERVICES, **fields})
    return GitConnector(config, "git")


def _by_message(commits: list[Commit]) -> dict[str, Commit]:
    return {c.message.splitlines()[0]: c for c in commits}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A repository with history before the window, then in it: services, a merge, a revert, a rename."""
    repo = GitRepo.init(tmp_path_factory.mktemp("git") / "shop")
    shas = {"path": str(repo.path)}
    shas["old"] = repo.commit(
        "initial layout",
        {
            "services/payments/api.py": "def pay():\n    return 1\n",
            "services/checkout/cart.py": "ITEMS = []\n",
            "lib/retry.py": "TRIES = 3\n",
            "README.md": "shop\n",
        },
        when=T0 - timedelta(days=2),
    )
    shas["payments"] = repo.commit(
        "payments: raise timeout\n\nThe gateway got slower.",
        {"services/payments/api.py": "def pay():\n    return 2\n\nTIMEOUT = 30\n"},
        when=_at(5),
        authored=T0 - timedelta(days=1),  # authored earlier, landed in the window
    )
    shas["multi"] = repo.commit(
        "retry everywhere",
        {
            "lib/retry.py": "TRIES = 5\nBACKOFF = 2\n",
            "lib/docs/retry.md": "docs only\n",  # excluded from `shared` by the negated glob
            "services/checkout/cart.py": "ITEMS = []\nRETRY = True\n",
            "services/checkout/pay.py": "from lib.retry import TRIES\n",
            "services/payments/client.py": "RETRY = 1\n",
        },
        when=_at(10),
    )
    shas["unknown"] = repo.commit("docs", {"README.md": "shop, the shop\n"}, when=_at(15))
    shas["binary"] = repo.commit(
        "logo and banner",
        {"web/cart/logo.png": BINARY, "web/cart/banner.ts": "export const x = 1;\n"},
        when=_at(20),
    )
    repo.git("checkout", "-q", "-b", "feature")
    shas["feature"] = repo.commit(
        "checkout: new cart", {"services/checkout/cart.py": "ITEMS = {}\nRETRY = True\n"}, when=_at(25)
    )
    repo.git("checkout", "-q", "main")
    shas["main_side"] = repo.commit(
        "payments: log", {"services/payments/log.py": "import logging\n"}, when=_at(30)
    )
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "Merge branch 'feature'", when=_at(35))
    shas["merge"] = repo.head()
    repo.git("revert", "--no-edit", shas["payments"], when=_at(40))
    shas["revert"] = repo.head()
    repo.git("mv", "services/payments/client.py", "services/checkout/client.py")
    shas["rename"] = repo.commit("move the client to checkout", when=_at(45))
    shas["at_end"] = repo.commit("at the window end", {"x.txt": "x\n"}, when=WINDOW.end)
    repo.git("checkout", "-q", "-b", "spike", shas["old"])
    shas["spike"] = repo.commit("spike on a side branch", {"spike.txt": "s\n"}, when=_at(50))
    repo.git("checkout", "-q", "main")
    repo.git("tag", "v1.0", shas["payments"])
    repo.write({"services/payments/api.py": "work in progress\n"})
    repo.git("stash", "-q", when=_at(55))  # stash commits are not changes: --all must skip them
    assert repo.git("stash", "list")
    return shas


def test_commits_of_the_window_by_committer_date_with_files_and_line_counts(shop: dict[str, str]) -> None:
    collected = _connector(Path(shop["path"])).fetch_commits(WINDOW)
    commits = collected.records
    shas = [c.sha for c in commits]
    expected = ["payments", "multi", "unknown", "binary", "feature", "main_side", "merge", "revert", "rename"]
    assert sorted(shas) == sorted(shop[k] for k in [*expected, "spike"])  # every branch, no stash
    assert not any(c.message.startswith(("WIP on", "index on")) for c in commits)
    assert [c.ts for c in commits] == sorted(c.ts for c in commits)
    assert shop["old"] not in shas and shop["at_end"] not in shas  # before the window; end is exclusive
    by = _by_message(commits)
    pay = by["payments: raise timeout"]
    assert pay.ts == _at(5) and pay.authored_at == T0 - timedelta(days=1)
    assert pay.message == "payments: raise timeout\n\nThe gateway got slower."
    assert pay.author == "Test Author" and pay.repo == "shop"
    assert pay.files == ["services/payments/api.py"]
    assert (pay.additions, pay.deletions) == (3, 1)
    assert not pay.merge and not pay.revert and pay.parents == [shop["old"]]
    assert collected.raw[0].source == "git" and collected.raw[0].uri.startswith("file://")
    assert collected.raw[0].content.count(b"\x1e") >= len(expected)


def test_path_globs_map_files_to_every_service_most_files_first(shop: dict[str, str]) -> None:
    by = _by_message(_connector(Path(shop["path"])).fetch_commits(WINDOW).records)
    multi = by["retry everywhere"]
    assert multi.services == ["checkout", "payments", "shared"]  # 2 files, then config order on ties
    assert multi.service == "checkout"
    assert (multi.additions, multi.deletions) == (6, 1)
    assert sorted(multi.files) == [
        "lib/docs/retry.md",
        "lib/retry.py",
        "services/checkout/cart.py",
        "services/checkout/pay.py",
        "services/payments/client.py",
    ]
    unknown = by["docs"]
    assert unknown.service is None and unknown.services == [] and unknown.files == ["README.md"]


def test_binary_files_have_no_line_counts(shop: dict[str, str]) -> None:
    commit = _by_message(_connector(Path(shop["path"])).fetch_commits(WINDOW).records)["logo and banner"]
    assert sorted(commit.files) == ["web/cart/banner.ts", "web/cart/logo.png"]
    assert commit.binary_files == ["web/cart/logo.png"]
    assert (commit.additions, commit.deletions) == (1, 0)
    assert commit.services == ["checkout"]


def test_merges_are_flagged_and_diffed_against_their_first_parent(shop: dict[str, str]) -> None:
    by = _by_message(_connector(Path(shop["path"])).fetch_commits(WINDOW).records)
    merge = by["Merge branch 'feature'"]
    assert merge.merge and merge.parents == [shop["main_side"], shop["feature"]]
    assert merge.files == ["services/checkout/cart.py"]  # what the merge brought into main
    assert (merge.additions, merge.deletions) == (1, 1) and merge.service == "checkout"
    assert not by["checkout: new cart"].merge


def test_reverts_name_the_reverted_commit(shop: dict[str, str]) -> None:
    by = _by_message(_connector(Path(shop["path"])).fetch_commits(WINDOW).records)
    revert = by['Revert "payments: raise timeout"']
    assert revert.revert and revert.reverts == [shop["payments"]]
    assert revert.sha == shop["revert"] and revert.services == ["payments"]
    assert (revert.additions, revert.deletions) == (1, 3)
    assert not by["payments: raise timeout"].revert and by["payments: raise timeout"].reverts == []


def test_renames_list_the_new_path_and_count_both_services(shop: dict[str, str]) -> None:
    commit = _by_message(_connector(Path(shop["path"])).fetch_commits(WINDOW).records)[
        "move the client to checkout"
    ]
    assert commit.files == ["services/checkout/client.py"]
    assert commit.renames == [{"from": "services/payments/client.py", "to": "services/checkout/client.py"}]
    assert commit.services == ["payments", "checkout"] and (commit.additions, commit.deletions) == (0, 0)


def test_configured_branches_limit_the_history(shop: dict[str, str]) -> None:
    main = _connector(Path(shop["path"]), branches=["main"]).fetch_commits(WINDOW).records
    shas = {c.sha for c in main}
    assert shop["spike"] not in shas and shop["feature"] in shas  # merged into main
    spike = _connector(Path(shop["path"]), branches=["spike"]).fetch_commits(WINDOW).records
    assert [c.sha for c in spike] == [shop["spike"]]
    tagged = _connector(Path(shop["path"]), branches=["v1.0"]).fetch_commits(WINDOW).records
    assert [c.sha for c in tagged] == [shop["payments"]]


def test_window_start_is_inclusive_and_bounds_are_exact_to_the_microsecond(shop: dict[str, str]) -> None:
    connector = _connector(Path(shop["path"]))
    exact = connector.fetch_commits(Window(_at(5), _at(10))).records
    assert [c.sha for c in exact] == [shop["payments"]]
    assert connector.fetch_commits(Window(_at(5) + timedelta(microseconds=1), _at(10))).records == []


def test_clock_skew_margin_finds_commits_behind_an_out_of_order_committer_date(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "skew")
    first = repo.commit("in the window", {"a": "1\n"}, when=_at(10))
    repo.commit("committed with a wrong clock", {"b": "1\n"}, when=T0 - timedelta(hours=3))
    last = repo.commit("in the window too", {"c": "1\n"}, when=_at(20))
    narrow = _connector(repo.path, clock_skew="1h").fetch_commits(WINDOW).records
    assert [c.sha for c in narrow] == [last]  # git's --since stops walking at the skewed commit
    wide = _connector(repo.path, clock_skew="4h").fetch_commits(WINDOW).records
    assert [c.sha for c in wide] == [first, last]


def test_an_empty_repository_has_no_commits(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "empty")
    collected = _connector(repo.path).fetch_commits(WINDOW)
    assert collected.records == [] and collected.raw[0].content == b""


def test_messages_holding_the_separators_and_unicode_paths_parse(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "odd")
    sha = repo.commit(
        "odd \x1e record \x1f field\n\nbody", {"services/payments/naïve café.py": "x = 1\n"}, when=_at(1)
    )
    (commit,) = _connector(repo.path).fetch_commits(WINDOW).records
    assert commit.sha == sha and commit.message == "odd \x1e record \x1f field\n\nbody"
    assert commit.files == ["services/payments/naïve café.py"] and commit.service == "payments"


def test_unexpected_git_output_is_a_clear_error() -> None:
    with pytest.raises(GitError, match="unexpected output"):
        parse_log(b"\x1e" + b"a" * 40 + b"\x1fonly two fields", "repo: git log")


def test_service_globs_follow_gitignore_syntax_with_negation() -> None:
    paths = pd.Series(["lib/a.py", "x/lib/b.py", "lib/docs/c.md", "web/cart/a.ts", "web/cart/sub/b.ts"])
    table = service_map(paths, SERVICES)
    assert table["shared"].tolist() == [True, True, False, False, False]
    assert table["checkout"].tolist() == [False, False, False, True, False]


# ---------------------------------------------------------------- config errors


def test_a_bad_repository_path_is_a_config_error_naming_the_field(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    (tmp_path / "plain").mkdir()
    cases = {
        str(tmp_path / "missing"): "is not a directory",
        str(tmp_path / "plain"): "is not a git repository",
        str(Path(shop["path"]) / "services"): "is inside the repository",
    }
    for path, message in cases.items():
        with pytest.raises(ConfigError, match=rf"\[connectors\.repo\] field 'path'.*{message}"):
            connector_config("repo", {"type": "git", "path": path})
    with pytest.raises(ConfigError, match=r"\[connectors\.repo\] field 'branches': 'nope' does not exist"):
        connector_config("repo", {"type": "git", "path": shop["path"], "branches": ["main", "nope"]})
    with pytest.raises(ConfigError, match=r"field 'services'.*service 'payments'"):
        connector_config("repo", {"type": "git", "path": shop["path"], "services": {"payments": []}})
    with pytest.raises(ConfigError, match=r"field 'colour'"):
        connector_config("repo", {"type": "git", "path": shop["path"], "colour": "red"})


def test_a_bare_clone_is_accepted_and_a_failing_git_names_the_repository(tmp_path: Path, shop: dict) -> None:
    bare = tmp_path / "shop.git"
    run_git(tmp_path, ["clone", "-q", "--bare", shop["path"], str(bare)])
    connector = connector_config("repo", {"type": "git", "path": str(bare)}).build()
    assert connector.config.repo_name == "shop"
    assert len(connector.fetch_commits(WINDOW).records) == 10  # the clone has main, feature, spike
    with pytest.raises(GitError, match=rf"{re.escape(str(bare))}: `git log .*` failed \(128\)"):
        run_git(bare, ["log", "no-such-branch"])
    with pytest.raises(GitError, match="not installed or not on PATH"):
        run_git(bare, ["log"], git="git-does-not-exist")
    stuck = tmp_path / "stuck-git"  # a git that hangs (a dead NFS mount, a credential prompt)
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    with pytest.raises(GitError, match=r"did not finish in 0\.2 s"):
        run_git(bare, ["log", "--all"], git=str(stuck), timeout=0.2)


def test_the_documented_example_is_a_valid_config(shop: dict[str, str]) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    for name, table in tomllib.loads(block[1])["connectors"].items():
        table = {**table, "path": shop["path"], "branches": ["main"]}  # the example's clone is not here
        settings = connector_config(name, table).settings
        assert isinstance(settings, GitConfig) and settings.services


def test_collected_commits_load_back_from_a_bundle(shop: dict[str, str], tmp_path: Path) -> None:
    from connectors.collect import collect
    from connectors.config import parse_config
    from postmortem.model import Incident

    config = parse_config(
        {"connectors": {"shop": {"type": "git", "path": shop["path"], "services": SERVICES}}}
    )
    incident = Incident(id="INC-G", severity="SEV2", started_at=_at(50), resolved_at=_at(60))
    result = collect(incident, config, tmp_path / "bundle", window=WINDOW)
    assert not result.partial and result.datasets == {"commits": 10}
    frame = load_bundle(tmp_path / "bundle").frames["commits"]
    assert set(frame["sha"]) >= {shop["merge"], shop["revert"]}
    assert (tmp_path / "bundle" / "raw" / "shop" / "0001.txt").read_bytes().startswith(b"\x1e")


# ---------------------------------------------------------------- conformance (no HTTP)


def _case(path: str) -> ConnectorCase:
    return ConnectorCase(
        capability="commits",
        build=lambda url, secret: CONNECTOR.create(GitConfig(path=path, services=SERVICES), "git"),
        script=lambda server: None,
        endpoint="/",
        window=WINDOW,
        min_records=10,
        http=False,
        secret_sent=False,
    )


def test_conformance(shop: dict[str, str], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """The suite's non-HTTP check: records validate, raw payload kept, bundle round trip, no secret."""
    check_records_and_pagination(_case(shop["path"]), caplog, tmp_path)
