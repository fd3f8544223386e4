"""GitHub connector against a local server answering like the REST API v3 (documented shapes and headers)."""

from __future__ import annotations

import logging
import re
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from connectors.base import Window
from connectors.config import ConfigError, connector_config
from connectors.github import CONNECTOR, GitHubConfig, GitHubConnector, GitHubRepo, deployment_outcome
from connectors.http_errors import HttpError, PayloadError, RateLimited
from postmortem.model import Change, Commit
from tests.connectors.conformance import (
    PLANTED_SECRET,
    RATE_LIMITED_CHECKS,
    SECRET_ENV,
    ConnectorCase,
    check_config,
)
from tests.connectors.fakeserver import FakeServer, Recorded, Reply

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "github.md"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=6), T0 + timedelta(minutes=30))
REPO = "acme/shop"
TOKEN = "ghp_TestToken0123456789abcdef"


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(n: int) -> str:
    return f"{n:040x}"


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": sum(map(ord, login)),
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": f"https://github.com/images/{login}.gif",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "site_admin": False,
    }


# ---------------------------------------------------------------- documented payload shapes


def commit_item(n: int, ts: datetime, message: str, login: str = "octocat") -> dict[str, Any]:
    """One element of `GET /repos/{o}/{r}/commits`."""
    sha = _sha(n)
    person = {"name": login.title(), "email": f"{login}@example.com"}
    return {
        "url": f"https://api.github.com/repos/{REPO}/commits/{sha}",
        "sha": sha,
        "node_id": "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
        "html_url": f"https://github.com/{REPO}/commit/{sha}",
        "comments_url": f"https://api.github.com/repos/{REPO}/commits/{sha}/comments",
        "commit": {
            "url": f"https://api.github.com/repos/{REPO}/git/commits/{sha}",
            "author": {**person, "date": _iso(ts - timedelta(hours=1))},
            "committer": {**person, "date": _iso(ts)},
            "message": message,
            "tree": {
                "url": f"https://api.github.com/repos/{REPO}/tree/{_sha(n + 9000)}",
                "sha": _sha(n + 9000),
            },
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        },
        "author": _user(login),
        "committer": _user(login),
        "parents": [
            {"url": f"https://api.github.com/repos/{REPO}/commits/{_sha(n - 1)}", "sha": _sha(n - 1)}
        ],
    }


def commit_detail(item: dict[str, Any], files: list[tuple[str, int, int]]) -> dict[str, Any]:
    """`GET /repos/{o}/{r}/commits/{sha}`: the list item plus `stats` and `files`."""
    return {
        **item,
        "stats": {
            "additions": sum(a for _, a, _ in files),
            "deletions": sum(d for _, _, d in files),
            "total": sum(a + d for _, a, d in files),
        },
        "files": [
            {
                "sha": _sha(len(name)),
                "filename": name,
                "status": "modified",
                "additions": a,
                "deletions": d,
                "changes": a + d,
                "blob_url": f"https://github.com/{REPO}/blob/{item['sha']}/{name}",
                "raw_url": f"https://github.com/{REPO}/raw/{item['sha']}/{name}",
                "contents_url": f"https://api.github.com/repos/{REPO}/contents/{name}?ref={item['sha']}",
                "patch": "@@ -1,2 +1,2 @@",
            }
            for name, a, d in files
        ],
    }


def pull(number: int, updated: datetime, merged: datetime | None, merge_sha: str, base: str = "main") -> dict:
    """One element of `GET /repos/{o}/{r}/pulls` (state closed)."""
    repo = {"id": 1296269, "full_name": REPO, "default_branch": "main", "private": True}
    return {
        "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
        "id": 1000 + number,
        "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
        "html_url": f"https://github.com/{REPO}/pull/{number}",
        "number": number,
        "state": "closed",
        "locked": False,
        "title": f"PR {number}",
        "user": _user("hubot"),
        "body": "Please pull these awesome changes in!",
        "labels": [],
        "created_at": _iso(updated - timedelta(days=1)),
        "updated_at": _iso(updated),
        "closed_at": _iso(merged or updated),
        "merged_at": _iso(merged) if merged else None,
        "merge_commit_sha": merge_sha,
        "head": {"label": "acme:topic", "ref": f"topic-{number}", "sha": _sha(number + 5000), "repo": repo},
        "base": {"label": f"acme:{base}", "ref": base, "sha": _sha(number + 6000), "repo": repo},
        "author_association": "MEMBER",
        "draft": False,
    }


def deployment(n: int, created: datetime, sha: str, ref: str, environment: str = "production", **kw) -> dict:
    """One element of `GET /repos/{o}/{r}/deployments`."""
    return {
        "url": f"https://api.github.com/repos/{REPO}/deployments/{n}",
        "id": n,
        "node_id": "MDEwOkRlcGxveW1lbnQx",
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": "Deploy request from hubot",
        "creator": _user("hubot"),
        "created_at": _iso(created),
        "updated_at": _iso(kw.pop("updated", created)),
        "statuses_url": f"https://api.github.com/repos/{REPO}/deployments/{n}/statuses",
        "repository_url": f"https://api.github.com/repos/{REPO}",
        "transient_environment": False,
        "production_environment": environment == "production",
        **kw,
    }


def status(n: int, deployment_id: int, state: str, created: datetime) -> dict[str, Any]:
    """One element of `GET /repos/{o}/{r}/deployments/{id}/statuses`."""
    return {
        "url": f"https://api.github.com/repos/{REPO}/deployments/{deployment_id}/statuses/{n}",
        "id": n,
        "node_id": "MDE2OkRlcGxveW1lbnRTdGF0dXMx",
        "state": state,
        "creator": _user("hubot"),
        "description": f"Deployment {state}.",
        "environment": "production",
        "target_url": f"https://ci.example.com/deploy/{deployment_id}",
        "created_at": _iso(created),
        "updated_at": _iso(created),
        "deployment_url": f"https://api.github.com/repos/{REPO}/deployments/{deployment_id}",
        "repository_url": f"https://api.github.com/repos/{REPO}",
        "environment_url": "https://shop.example.com",
        "log_url": f"https://ci.example.com/deploy/{deployment_id}/log",
    }


def release(n: int, tag: str, created: datetime, published: datetime | None, draft: bool = False) -> dict:
    """One element of `GET /repos/{o}/{r}/releases`."""
    return {
        "url": f"https://api.github.com/repos/{REPO}/releases/{n}",
        "html_url": f"https://github.com/{REPO}/releases/{tag}",
        "assets_url": f"https://api.github.com/repos/{REPO}/releases/{n}/assets",
        "tarball_url": f"https://api.github.com/repos/{REPO}/tarball/{tag}",
        "zipball_url": f"https://api.github.com/repos/{REPO}/zipball/{tag}",
        "id": n,
        "node_id": "MDc6UmVsZWFzZTE=",
        "tag_name": tag,
        "target_commitish": "main",
        "name": tag,
        "body": "Description of the release",
        "draft": draft,
        "prerelease": False,
        "created_at": _iso(created),
        "published_at": _iso(published) if published else None,
        "author": _user("octocat"),
        "assets": [],
    }


# ---------------------------------------------------------------- the fake API


@dataclass
class GitHubApi:
    """GitHub's list endpoints over fixed data: `page_size` items per page, `Link` next/last headers."""

    commits: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    prefix: str = ""

    def paged(self, server: FakeServer, request: Recorded, items: list[Any]) -> Reply:
        """One page of items, with GitHub's Link header (next and last pages keep the query)."""
        page = int(request.arg("page", "1") or 1)
        last = max(1, -(-len(items) // self.page_size))
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def link(n: int) -> str:
            return f"{server.url}{request.path}?{urlencode({**query, 'page': n})}"

        rels = [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"'] if page < last else []
        if page > 1:
            rels += [f'<{link(page - 1)}>; rel="prev"', f'<{link(1)}>; rel="first"']
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-github-api-version-selected": "2022-11-28",
        }
        if rels:
            headers["Link"] = ", ".join(rels)
        return Reply(json=items[(page - 1) * self.page_size : page * self.page_size], headers=headers)

    def commits_in(self, request: Recorded) -> list[dict[str, Any]]:
        """The commits `since`/`until` select (both inclusive, on the committer date)."""
        since, until = request.arg("since"), request.arg("until")
        return [c for c in self.commits if since <= c["commit"]["committer"]["date"] <= until]

    def install(self, server: FakeServer) -> None:
        """Route every endpoint the connector reads."""
        base = f"{self.prefix}/repos/{REPO}"
        server.route("GET", f"{base}/commits", lambda r: self.paged(server, r, self.commits_in(r)))
        for sha, detail in self.details.items():
            server.route("GET", f"{base}/commits/{sha}", Reply(json=detail))
        server.route("GET", f"{base}/pulls", lambda r: self.paged(server, r, self.pulls))
        server.route("GET", f"{base}/deployments", lambda r: self.paged(server, r, self.deployments))
        for dep_id, items in self.statuses.items():
            server.route(
                "GET",
                f"{base}/deployments/{dep_id}/statuses",
                lambda r, items=items: self.paged(server, r, items),
            )
        server.route("GET", f"{base}/releases", lambda r: self.paged(server, r, self.releases))


def shop_api() -> GitHubApi:
    """A monorepo: 5 commits (1 before the window), PRs, deployments and releases around T0."""
    api = GitHubApi()
    layout = {
        1: ("feat: checkout button", ["services/checkout/app.py"], T0 - timedelta(hours=2)),
        2: (
            "fix: payments retry",
            ["services/payments/retry.py", "services/payments/client.py"],
            T0 - timedelta(hours=1),
        ),
        3: (
            "chore: both",
            ["services/checkout/a.py", "services/payments/b.py", "services/payments/c.py"],
            T0 - timedelta(minutes=30),
        ),
        4: ("docs", ["README.md"], T0 - timedelta(minutes=10)),
        5: ("old", ["services/checkout/old.py"], T0 - timedelta(hours=9)),
    }
    for n, (message, files, ts) in sorted(layout.items(), key=lambda kv: kv[1][2], reverse=True):
        item = commit_item(n, ts, message)
        api.commits.append(item)
        api.details[item["sha"]] = commit_detail(item, [(f, 10 * n, n) for f in files])
    api.pulls = [  # most recently updated first
        pull(7, T0 + timedelta(minutes=20), T0 - timedelta(hours=1), _sha(2)),
        pull(8, T0 + timedelta(minutes=5), T0 - timedelta(minutes=45), _sha(77)),  # merge commit not listed
        pull(9, T0, T0 - timedelta(minutes=50), _sha(78), base="feature-x"),  # into another branch
        pull(10, T0 - timedelta(hours=2), None, _sha(79)),  # closed without merging
        pull(11, WINDOW.start - timedelta(minutes=1), WINDOW.start - timedelta(hours=1), _sha(80)),
        pull(12, WINDOW.start - timedelta(hours=5), WINDOW.start - timedelta(hours=6), _sha(81)),
        pull(13, WINDOW.start - timedelta(days=2), WINDOW.start - timedelta(days=2), _sha(82)),
        pull(14, WINDOW.start - timedelta(days=3), WINDOW.start - timedelta(days=3), _sha(83)),
    ]
    d = [  # newest first, as GitHub lists them
        deployment(106, T0 + timedelta(hours=1), _sha(4), "v1.4.0"),  # after the window: no statuses read
        deployment(105, T0 - timedelta(minutes=20), _sha(3), "v1.3.0", updated=T0 + timedelta(hours=1)),
        deployment(104, T0 - timedelta(hours=1), _sha(2), "main", environment="staging"),
        deployment(103, T0 - timedelta(hours=2), _sha(1), _sha(1)),
        deployment(102, T0 - timedelta(hours=3), _sha(1), "v1.2.0"),
        deployment(101, WINDOW.start - timedelta(hours=2), _sha(5), "v1.1.0"),  # decided inside the window
        deployment(100, WINDOW.start - timedelta(days=3), _sha(5), "v1.0.0"),  # beyond lookback: stop
        deployment(99, WINDOW.start - timedelta(days=4), _sha(5), "v0.9.0"),
        deployment(98, WINDOW.start - timedelta(days=5), _sha(5), "v0.8.0"),
        deployment(97, WINDOW.start - timedelta(days=6), _sha(5), "v0.7.0"),
    ]
    api.deployments = d
    api.statuses = {
        105: [  # newest first, as GitHub lists them
            status(3, 105, "inactive", T0 + timedelta(hours=1)),
            status(2, 105, "success", T0 - timedelta(minutes=12)),
            status(1, 105, "in_progress", T0 - timedelta(minutes=19)),
        ],
        104: [
            status(5, 104, "failure", T0 - timedelta(minutes=50)),
            status(4, 104, "queued", T0 - timedelta(hours=1)),
        ],
        103: [status(6, 103, "error", T0 - timedelta(hours=2) + timedelta(minutes=3))],
        102: [
            status(8, 102, "failure", T0 - timedelta(hours=2)),
            status(7, 102, "success", T0 - timedelta(hours=3) + timedelta(minutes=5)),
        ],
        101: [status(9, 101, "success", WINDOW.start + timedelta(minutes=10))],
        100: [status(10, 100, "success", WINDOW.start - timedelta(days=3))],
    }
    api.releases = [
        release(5, "v1.5.0", T0, T0 + timedelta(hours=2)),  # published after the window
        release(
            4, "v1.3.0", T0 - timedelta(minutes=40), T0 - timedelta(minutes=25)
        ),  # deployment 105 carries it
        release(3, "v1.3.0-rc1", T0 - timedelta(hours=4), None, draft=True),
        release(2, "v1.2.5", T0 - timedelta(hours=5), T0 - timedelta(hours=4)),
        release(1, "v1.0.0", WINDOW.start - timedelta(days=2), WINDOW.start - timedelta(days=2)),
    ]
    return api


def config(url: str, **kw: Any) -> GitHubConfig:
    """A config for acme/shop with path patterns, fast retries and a token."""
    repo = GitHubRepo(
        repo=REPO,
        service="shop",
        services={"checkout": ["services/checkout/"], "payments": ["services/payments/**"]},
    )
    fields = {"url": url, "token": SecretStr(TOKEN), "repos": [repo], "backoff": 0, "max_wait": 5, **kw}
    return GitHubConfig(**fields)


@pytest.fixture
def server() -> FakeServer:
    """A started local server with the shop API, stopped after the test."""
    with FakeServer() as fake:
        shop_api().install(fake)
        yield fake


# ---------------------------------------------------------------- commits


def test_commits_of_the_window_with_files_services_and_pull_requests(server: FakeServer) -> None:
    collected = GitHubConnector(config(server.url), "gh").fetch_commits(WINDOW)
    got = {c.sha: c for c in collected.records}
    assert set(got) == {_sha(1), _sha(2), _sha(3), _sha(4), _sha(77)}  # 5 is before the window
    one, two, three, four = (got[_sha(n)] for n in (1, 2, 3, 4))
    assert one.ts == T0 - timedelta(hours=2) and one.authored_at == T0 - timedelta(hours=3)
    assert (one.author, one.repo, one.message) == ("octocat", REPO, "feat: checkout button")
    assert (one.service, one.files, one.additions, one.deletions) == (
        "checkout",
        ["services/checkout/app.py"],
        10,
        1,
    )
    assert two.service == "payments" and (two.additions, two.deletions) == (40, 4)
    assert three.service == "payments" and three.services == ["payments", "checkout"]  # 2 files of 3
    assert four.service == "shop"  # no pattern matches: the repository's service
    assert one.url == f"https://github.com/{REPO}/commit/{_sha(1)}"
    # PR 7 merged commit 2; PR 8's merge commit is not in the branch's list: its own record
    assert (two.pull_request, two.pull_request_title) == (7, "PR 7")
    assert not hasattr(one, "pull_request") or one.pull_request is None
    pr8 = got[_sha(77)]
    assert (pr8.ts, pr8.pull_request, pr8.service, pr8.branch) == (
        T0 - timedelta(minutes=45),
        8,
        "shop",
        "main",
    )
    for record in collected.records:
        Commit.model_validate(record.model_dump())

    listing, page2 = server.requests_to(f"/repos/{REPO}/commits")
    assert page2.arg("page") == "2" and page2.arg("since") == listing.arg("since")  # Link keeps the query
    assert listing.arg("since") == "2024-03-01T04:00:00Z" and listing.arg("until") == "2024-03-01T10:30:00Z"
    assert listing.arg("per_page") == "100"
    assert len([r for r in server.requests if r.path.startswith(f"/repos/{REPO}/commits/")]) == 4
    # pulls: updated desc, paging stops at PR 11 (updated before the window): page 4 is never read
    pulls = server.requests_to(f"/repos/{REPO}/pulls")
    assert [r.arg("page") for r in pulls] == [None, "2", "3"]
    assert pulls[0].arg("state") == "closed" and pulls[0].arg("sort") == "updated"
    assert pulls[0].arg("direction") == "desc"
    assert len(collected.raw) == 2 + 4 + 3 and {p.source for p in collected.raw} == {"gh"}


def test_request_headers_follow_the_api_documentation(server: FakeServer) -> None:
    GitHubConnector(config(server.url, pull_requests=False, commit_files=False), "gh").fetch_commits(WINDOW)
    assert len(server.requests) == 2
    for request in server.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_without_commit_files_the_list_alone_is_read(server: FakeServer) -> None:
    collected = GitHubConnector(
        config(server.url, commit_files=False, pull_requests=False), "gh"
    ).fetch_commits(WINDOW)
    assert len(server.requests) == 2  # two pages of the commit list, nothing else
    assert {c.service for c in collected.records} == {"shop"} and all(
        c.files == [] for c in collected.records
    )


def test_a_branch_is_read_with_the_sha_parameter(server: FakeServer) -> None:
    cfg = config(server.url, commit_files=False, pull_requests=False)
    cfg.repos[0].branch = "release/1.3"
    GitHubConnector(cfg, "gh").fetch_commits(WINDOW)
    assert {r.arg("sha") for r in server.requests_to(f"/repos/{REPO}/commits")} == {"release/1.3"}


# ---------------------------------------------------------------- deploys


def test_deploy_time_is_the_success_status_time_not_updated_at(server: FakeServer) -> None:
    collected = GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW)
    got = {c.id: c for c in collected.records}
    d105 = got[f"{REPO}/deployments/105"]
    # updated_at is T0+1h (the inactive status); the success status was created at T0-12min
    assert d105.ts == T0 - timedelta(minutes=12)
    assert (d105.status, d105.state, d105.kind) == ("succeeded", "success", "deploy")
    assert (d105.version, d105.sha, d105.environment, d105.service) == (
        "v1.3.0",
        _sha(3),
        "production",
        "shop",
    )
    assert d105.actor == "hubot" and d105.url == "https://ci.example.com/deploy/105/log"
    assert d105.created_at == T0 - timedelta(minutes=20)


def test_failure_and_error_statuses_make_failed_deploys(server: FakeServer) -> None:
    got = {c.id: c for c in GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW).records}
    staging = got[f"{REPO}/deployments/104"]
    assert (staging.status, staging.ts, staging.environment) == (
        "failed",
        T0 - timedelta(minutes=50),
        "staging",
    )
    errored = got[f"{REPO}/deployments/103"]
    assert (errored.status, errored.version) == ("failed", None)  # its ref is the sha: no version
    assert errored.ts == T0 - timedelta(hours=2) + timedelta(minutes=3)
    # success, then failure: live at the success time, but failed
    flaky = got[f"{REPO}/deployments/102"]
    assert (flaky.status, flaky.ts) == ("failed", T0 - timedelta(hours=3) + timedelta(minutes=5))


def test_deployment_paging_stops_past_the_lookback_and_statuses_are_read_only_when_needed(
    server: FakeServer,
) -> None:
    collected = GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW)
    ids = sorted(c.id for c in collected.records if "/deployments/" in c.id)
    # 101 was created before the window but its success landed inside it; 106 came after the window
    assert ids == [f"{REPO}/deployments/{n}" for n in (101, 102, 103, 104, 105)]
    pages = server.requests_to(f"/repos/{REPO}/deployments")
    assert [r.arg("page") for r in pages] == [None, "2", "3", "4"]  # 100 on page 4 stops it; page 5 unread
    read = {int(r.path.split("/")[-2]) for r in server.requests if r.path.endswith("/statuses")}
    assert read == {101, 102, 103, 104, 105}  # not 106 (created after the window), not 100


def test_releases_are_deploys_unless_a_deployment_carries_their_tag(server: FakeServer) -> None:
    records = GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW).records
    releases = [c for c in records if "/releases/" in c.id]
    # v1.5.0: after the window; v1.3.0: deployment 105 carries it; rc1: a draft; v1.0.0: before the window
    assert [(c.version, c.ts, c.status, c.kind) for c in releases] == [
        ("v1.2.5", T0 - timedelta(hours=4), "succeeded", "deploy")
    ]
    assert releases[0].url == f"https://github.com/{REPO}/releases/v1.2.5" and releases[0].sha is None
    assert all(isinstance(c, Change) for c in records)


def test_environment_filter_and_switches(server: FakeServer) -> None:
    cfg = config(server.url, environments=["staging"], releases=False)
    records = GitHubConnector(cfg, "gh").fetch_deploys(WINDOW).records
    assert [c.id for c in records] == [f"{REPO}/deployments/104"]
    assert not server.requests_to(f"/repos/{REPO}/releases")


def test_a_payload_service_names_the_deployed_service() -> None:
    api = GitHubApi(
        deployments=[
            deployment(1, T0 - timedelta(hours=1), _sha(1), "main", payload={"service": "payments"})
        ],
        statuses={1: [status(1, 1, "success", T0 - timedelta(minutes=50))]},
    )
    with FakeServer() as fake:
        api.install(fake)
        [change] = GitHubConnector(config(fake.url, releases=False), "gh").fetch_deploys(WINDOW).records
    assert change.service == "payments"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["queued", "in_progress", "success", "inactive"], ("succeeded", 2)),
        (["in_progress", "failure"], ("failed", 1)),
        (["error"], ("failed", 0)),
        (["success", "failure"], ("failed", 0)),
        (["failure", "success"], ("succeeded", 1)),
        (["pending", "in_progress"], (None, None)),
        ([], (None, None)),
    ],
)
def test_deployment_outcome_rules(states: list[str], expected: tuple[str | None, int | None]) -> None:
    statuses = [status(i, 1, s, T0 + timedelta(minutes=i)) for i, s in enumerate(states)]
    got_status, got_ts, _ = deployment_outcome(list(reversed(statuses)), "here")
    want_status, at = expected
    assert got_status == want_status
    assert got_ts == (None if at is None else T0 + timedelta(minutes=at))


# ---------------------------------------------------------------- errors and enterprise


def test_enterprise_base_url_with_api_v3_prefix(tmp_path: Path) -> None:
    api = shop_api()
    api.prefix = "/api/v3"
    with FakeServer() as fake:
        api.install(fake)
        collected = GitHubConnector(config(f"{fake.url}/api/v3"), "ghe").fetch_commits(WINDOW)
    assert len(collected.records) == 5
    assert all(r.path.startswith("/api/v3/repos/") for r in fake.requests)


def test_a_rate_limit_reset_beyond_max_wait_fails_at_once_without_the_token(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reset = str(int(time.time()) + 3600)
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    body = {
        "message": "API rate limit exceeded for user ID 1.",
        "documentation_url": "https://docs.github.com",
    }
    server.inject("GET", f"/repos/{REPO}/deployments", Reply(403, headers=headers, json=body))
    with pytest.raises(
        RateLimited, match=r"GET http://127\.0\.0\.1:\d+/repos/acme/shop/deployments\?per_page=100"
    ):
        GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW)
    assert len(server.requests_to(f"/repos/{REPO}/deployments")) == 1
    assert TOKEN not in caplog.text


def test_a_secondary_rate_limit_with_retry_after_is_waited_out(server: FakeServer) -> None:
    body = {
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    }
    server.inject("GET", f"/repos/{REPO}/releases", Reply(403, headers={"retry-after": "1"}, json=body))
    began = time.monotonic()
    records = GitHubConnector(config(server.url, deployments=False), "gh").fetch_deploys(WINDOW).records
    assert time.monotonic() - began >= 0.9 and len(records) == 2  # v1.3.0 counts: no deployment read
    assert len(server.requests_to(f"/repos/{REPO}/releases")) == 4  # the 403 then 3 pages


def test_malformed_statuses_name_their_url(server: FakeServer) -> None:
    server.inject("GET", f"/repos/{REPO}/deployments/105/statuses", Reply(200, body="[{"))
    with pytest.raises(PayloadError, match=r"/repos/acme/shop/deployments/105/statuses.*not valid JSON"):
        GitHubConnector(config(server.url), "gh").fetch_deploys(WINDOW)


def test_a_404_repository_is_not_retried_and_names_the_url(server: FakeServer) -> None:
    cfg = config(server.url)
    cfg.repos[0].repo = "acme/gone"
    with pytest.raises(HttpError, match=r"/repos/acme/gone/commits.*HTTP 404") as err:
        GitHubConnector(cfg, "gh").fetch_commits(WINDOW)
    assert err.value.status == 404 and len(server.requests) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"created_at": "2024-03-01T09:00:00"}, r"\[0\] field 'created_at'.*offset"),
        ({"created_at": None}, r"\[0\] field 'created_at': the timestamp is missing"),
    ],
)
def test_bad_deployment_records_are_payload_errors_naming_record_and_field(
    change: dict, message: str
) -> None:
    api = GitHubApi(deployments=[{**deployment(1, T0, _sha(1), "main"), **change}])
    with FakeServer() as fake:
        api.install(fake)
        with pytest.raises(
            PayloadError, match=r"GET http://.*/repos/acme/shop/deployments\?per_page=100 " + message
        ):
            GitHubConnector(config(fake.url, releases=False), "gh").fetch_deploys(WINDOW)


# ---------------------------------------------------------------- config


def test_config_errors_name_the_table_and_field() -> None:
    base = {"type": "github", "repos": [{"repo": REPO}]}
    assert connector_config("gh", base).settings.url == "https://api.github.com"
    with pytest.raises(ConfigError, match=r"\[connectors\.gh\] field 'repos\.0\.repo': .*not owner/name"):
        connector_config("gh", {**base, "repos": [{"repo": "shop"}]})
    with pytest.raises(ConfigError, match=r"\[connectors\.gh\] field 'repos': .*listed twice: acme/shop"):
        connector_config("gh", {**base, "repos": [{"repo": REPO}, {"repo": "ACME/shop"}]})
    with pytest.raises(ConfigError, match=r"field 'repos\.0\.services': service 'a': give a non-empty list"):
        connector_config("gh", {**base, "repos": [{"repo": REPO, "services": {"a": []}}]})
    with pytest.raises(ConfigError, match=r"field 'repos\.0\.servic'"):
        connector_config("gh", {**base, "repos": [{"repo": REPO, "servic": "a"}]})


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"repos": [{"repo": REPO}], "token": {"env": SECRET_ENV}}, monkeypatch)


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken-value")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        assert isinstance(connector_config(name, table).settings, GitHubConfig)


# ---------------------------------------------------------------- conformance


def _build(url: str, secret: str) -> object:
    return CONNECTOR.create(config(url, token=SecretStr(secret), retries=3), "gh")


COMMITS = ConnectorCase(
    capability="commits",
    build=_build,
    script=lambda fake: shop_api().install(fake),
    endpoint=f"/repos/{REPO}/commits",
    window=WINDOW,
    min_records=5,
    pages=2,
    rate_limit=True,
)
DEPLOYS = ConnectorCase(
    capability="deploys",
    build=_build,
    script=lambda fake: shop_api().install(fake),
    endpoint=f"/repos/{REPO}/deployments",
    window=WINDOW,
    min_records=6,
    pages=4,
    rate_limit=True,
)


@pytest.mark.parametrize("case", [COMMITS, DEPLOYS], ids=["commits", "deploys"])
@pytest.mark.parametrize("check", RATE_LIMITED_CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(case, caplog, tmp_path)


def test_the_planted_secret_is_the_bearer_token(caplog: pytest.LogCaptureFixture) -> None:
    with FakeServer() as fake:
        shop_api().install(fake)
        _build(fake.url, PLANTED_SECRET).fetch_commits(WINDOW)
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {PLANTED_SECRET}"}
