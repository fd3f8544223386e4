"""GitLab connector against a local server answering like the REST API v4 (documented shapes and headers)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from connectors.base import Window
from connectors.config import ConfigError, connector_config
from connectors.gitlab import CONNECTOR, GitLabConfig, GitLabConnector, GitLabProject, next_page
from connectors.http_errors import HttpError, PageCapReached, PayloadError
from postmortem.model import Change, Commit
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Recorded, Reply

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "gitlab.md"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=6), T0 + timedelta(minutes=30))
PROJECT = "acme/platform"
BASE = "/api/v4/projects/acme%2Fplatform"
TOKEN = "glpat-TestToken0123456789"
CEST = timezone(timedelta(hours=2))


def _iso(ts: datetime) -> str:
    """GitLab's timestamp format: milliseconds and an offset."""
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha(n: int) -> str:
    return f"{n:040x}"


def _user(username: str) -> dict[str, Any]:
    return {
        "id": sum(map(ord, username)),
        "name": username.title(),
        "username": username,
        "state": "active",
        "avatar_url": f"https://www.gravatar.com/avatar/{username}?s=80&d=identicon",
        "web_url": f"https://gitlab.example.com/{username}",
    }


# ---------------------------------------------------------------- documented payload shapes


def commit_item(n: int, ts: datetime, title: str, stats: tuple[int, int]) -> dict[str, Any]:
    """One element of `GET /projects/:id/repository/commits?with_stats=true`."""
    sha = _sha(n)
    return {
        "id": sha,
        "short_id": sha[:11],
        "title": title,
        "author_name": "Jane Doe",
        "author_email": "jane@example.com",
        "authored_date": (ts - timedelta(hours=1)).isoformat(timespec="milliseconds"),
        "committer_name": "Administrator",
        "committer_email": "admin@example.com",
        "committed_date": ts.astimezone(CEST).isoformat(timespec="milliseconds"),  # GitLab keeps the offset
        "created_at": ts.isoformat(timespec="milliseconds"),
        "message": f"{title}\n\nLonger description.",
        "parent_ids": [_sha(n - 1)],
        "web_url": f"https://gitlab.example.com/{PROJECT}/-/commit/{sha}",
        "trailers": {},
        "extended_trailers": {},
        "stats": {"additions": stats[0], "deletions": stats[1], "total": sum(stats)},
    }


def diff(path: str, old: str | None = None) -> dict[str, Any]:
    """One element of `GET /projects/:id/repository/commits/:sha/diff`."""
    return {
        "diff": "@@ -71,6 +71,8 @@\n-old\n+new\n",
        "new_path": path,
        "old_path": old or path,
        "a_mode": "100644",
        "b_mode": "100644",
        "new_file": False,
        "renamed_file": old is not None,
        "deleted_file": False,
    }


def merge_request(
    iid: int, updated: datetime, merged: datetime | None, target: str = "main", **shas: Any
) -> dict:
    """One element of `GET /projects/:id/merge_requests?state=merged`."""
    return {
        "id": 80000 + iid,
        "iid": iid,
        "project_id": 3,
        "title": f"MR {iid}",
        "description": "Fixes the thing",
        "state": "merged",
        "merged_by": _user("root"),
        "merge_user": _user("root"),
        "merged_at": _iso(merged) if merged else None,
        "closed_by": None,
        "closed_at": None,
        "created_at": _iso(updated - timedelta(days=1)),
        "updated_at": _iso(updated),
        "target_branch": target,
        "source_branch": f"topic-{iid}",
        "author": _user("jane"),
        "source_project_id": 3,
        "target_project_id": 3,
        "labels": [],
        "draft": False,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "mergeable",
        "sha": shas.get("sha", _sha(iid + 5000)),
        "merge_commit_sha": shas.get("merge_commit_sha"),
        "squash_commit_sha": shas.get("squash_commit_sha"),
        "squash": shas.get("squash_commit_sha") is not None,
        "web_url": f"https://gitlab.example.com/{PROJECT}/-/merge_requests/{iid}",
        "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{PROJECT}!{iid}"},
    }


def deployment(iid: int, status: str, updated: datetime, *, env: str = "production", **kw: Any) -> dict:
    """One element of `GET /projects/:id/deployments` (`deployable` is the job, null for API-created ones)."""
    sha = _sha(iid + 100)
    job = kw.pop("job", {})
    deployable = None
    if job is not None:
        deployable = {
            "id": 600 + iid,
            "status": status,
            "stage": "deploy",
            "name": f"deploy-{env}",
            "ref": "main",
            "tag": False,
            "coverage": None,
            "created_at": _iso(updated - timedelta(minutes=30)),
            "started_at": _iso(job["started"]) if job.get("started") else None,
            "finished_at": _iso(job["finished"]) if job.get("finished") else None,
            "duration": 60.5,
            "user": _user("root"),
            "commit": {"id": sha, "short_id": sha[:8], "title": "Merge branch 'x'", "author_name": "Jane"},
            "pipeline": {
                "id": 40 + iid,
                "ref": "main",
                "sha": sha,
                "status": status,
                "web_url": f"https://gitlab.example.com/{PROJECT}/-/pipelines/{40 + iid}",
            },
            "web_url": f"https://gitlab.example.com/{PROJECT}/-/jobs/{600 + iid}",
        }
    return {
        "id": 41 + iid,
        "iid": iid,
        "ref": kw.pop("ref", "main"),
        "sha": sha,
        "created_at": _iso(kw.pop("created", updated - timedelta(minutes=30))),
        "updated_at": _iso(updated),
        "status": status,
        "user": _user("root"),
        "environment": {"id": 9, "name": env, "external_url": f"https://{env}.example.com"},
        "deployable": deployable,
        **kw,
    }


# ---------------------------------------------------------------- the fake API


@dataclass
class GitLabApi:
    """GitLab's offset-paginated endpoints: `x-next-page`/`x-total-pages` and `Link` headers."""

    commits: list[dict[str, Any]] = field(default_factory=list)
    diffs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    headers: str = "both"  # "both", "link" (x-next-page stripped) or "next" (Link stripped)

    def paged(self, server: FakeServer, request: Recorded, items: list[Any]) -> Reply:
        """One page of items with GitLab's pagination headers."""
        page = int(request.arg("page", "1") or 1)
        total_pages = max(1, -(-len(items) // self.page_size))
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def link(n: int) -> str:
            return f"{server.url}{request.path}?{urlencode({**query, 'page': n})}"

        rels = [f'<{link(1)}>; rel="first"', f'<{link(total_pages)}>; rel="last"']
        if page < total_pages:
            rels.insert(0, f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            rels.insert(0, f'<{link(page - 1)}>; rel="prev"')
        headers = {
            "x-page": str(page),
            "x-per-page": str(self.page_size),
            "x-total": str(len(items)),
            "x-total-pages": str(total_pages),
            "x-next-page": str(page + 1) if page < total_pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(rels),
        }
        if self.headers == "link":
            headers = {"Link": headers["Link"]}
        elif self.headers == "next":
            del headers["Link"]
        return Reply(json=items[(page - 1) * self.page_size : page * self.page_size], headers=headers)

    def between(self, items: list[dict], key: str, after: str | None, before: str | None) -> list[dict]:
        """Items whose `key` time is after/before the given ISO times (GitLab's filters)."""
        lo = datetime.fromisoformat(after) if after else None
        hi = datetime.fromisoformat(before) if before else None
        return [
            i
            for i in items
            if (lo is None or datetime.fromisoformat(i[key]) >= lo)
            and (hi is None or datetime.fromisoformat(i[key]) <= hi)
        ]

    def install(self, server: FakeServer) -> None:
        """Route every endpoint the connector reads."""

        def commits(r: Recorded) -> Reply:
            return self.paged(
                server, r, self.between(self.commits, "committed_date", r.arg("since"), r.arg("until"))
            )

        def merge_requests(r: Recorded) -> Reply:
            merged = [m for m in self.merge_requests if m["state"] == r.arg("state")]
            return self.paged(server, r, self.between(merged, "updated_at", r.arg("updated_after"), None))

        def deployments(r: Recorded) -> Reply:
            found = self.between(
                self.deployments, "updated_at", r.arg("updated_after"), r.arg("updated_before")
            )
            found.sort(key=lambda d: d["updated_at"] if r.arg("order_by") == "updated_at" else d["id"])
            return self.paged(server, r, found)

        server.route("GET", f"{BASE}/repository/commits", commits)
        for sha, items in self.diffs.items():
            server.route(
                "GET",
                f"{BASE}/repository/commits/{sha}/diff",
                lambda r, items=items: self.paged(server, r, items),
            )
        server.route("GET", f"{BASE}/merge_requests", merge_requests)
        server.route("GET", f"{BASE}/deployments", deployments)
        server.route(
            "GET",
            BASE,
            Reply(
                json={
                    "id": 3,
                    "path_with_namespace": PROJECT,
                    "default_branch": "main",
                    "visibility": "private",
                }
            ),
        )


def platform_api(**kw: Any) -> GitLabApi:
    """A monorepo: 4 commits (1 before the window), merge requests and deployments around T0."""
    api = GitLabApi(**kw)
    layout = [
        (4, "docs", ["README.md"], T0 - timedelta(minutes=10)),
        (
            3,
            "payments: retry",
            ["services/payments/retry.rb", "services/payments/client.rb"],
            T0 - timedelta(minutes=40),
        ),
        (2, "search: move", ["services/search/new.rb"], T0 - timedelta(hours=2)),
        (1, "old", ["services/search/old.rb"], T0 - timedelta(hours=8)),
    ]
    for n, title, files, ts in layout:  # newest first, as GitLab lists them
        api.commits.append(commit_item(n, ts, title, (10 * n, n)))
        api.diffs[_sha(n)] = [diff(f) for f in files]
    api.diffs[_sha(2)] = [diff("services/search/new.rb", old="services/search/old.rb")]
    api.merge_requests = [
        merge_request(
            21, T0, T0 - timedelta(minutes=40), squash_commit_sha=_sha(3), merge_commit_sha=_sha(99)
        ),
        merge_request(22, T0, T0 - timedelta(hours=2), sha=_sha(2)),  # fast-forward: its head landed
        merge_request(
            23, T0, T0 - timedelta(hours=1), merge_commit_sha=_sha(55)
        ),  # not in the list: own record
        merge_request(24, T0, T0 - timedelta(hours=1), target="feature-x", merge_commit_sha=_sha(56)),
        merge_request(25, T0, WINDOW.start - timedelta(hours=1), merge_commit_sha=_sha(57)),  # merged before
        merge_request(
            26, WINDOW.start - timedelta(days=1), WINDOW.start - timedelta(days=1), merge_commit_sha=_sha(58)
        ),
    ]
    api.deployments = [
        # success: the job finished at T0-1h; the deployment was updated again later
        deployment(
            1,
            "success",
            T0 + timedelta(hours=2),
            job={"started": T0 - timedelta(hours=1, minutes=5), "finished": T0 - timedelta(hours=1)},
        ),
        deployment(2, "failed", T0 - timedelta(minutes=29), job={"finished": T0 - timedelta(minutes=30)}),
        deployment(
            3,
            "canceled",
            T0 - timedelta(minutes=19),
            job={"finished": T0 - timedelta(minutes=20)},
            ref="v2.0.0",
        ),
        deployment(4, "running", T0 - timedelta(minutes=4), job={"started": T0 - timedelta(minutes=5)}),
        deployment(5, "success", T0 - timedelta(hours=2), job=None),  # created through the API: no job
        deployment(
            6,
            "success",
            WINDOW.start + timedelta(minutes=1),
            job={"finished": WINDOW.start - timedelta(minutes=5)},
        ),
        deployment(
            7, "success", T0 - timedelta(hours=3), env="staging", job={"finished": T0 - timedelta(hours=3)}
        ),
        deployment(
            8, "success", T0 + timedelta(days=3), job={"finished": T0 - timedelta(hours=4)}
        ),  # updated too late
    ]
    return api


def config(url: str, **kw: Any) -> GitLabConfig:
    """A config for acme/platform with path patterns, fast retries and a token."""
    project = GitLabProject(
        project=PROJECT,
        service="platform",
        services={"payments": ["services/payments/"], "search": ["services/search/**"]},
    )
    fields = {"url": url, "token": SecretStr(TOKEN), "projects": [project], "backoff": 0, "max_wait": 5, **kw}
    return GitLabConfig(**fields)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A started local server with the platform API, stopped after the test."""
    with FakeServer() as fake:
        platform_api().install(fake)
        yield fake


# ---------------------------------------------------------------- commits


def test_commits_with_stats_files_services_and_merge_requests(server: FakeServer) -> None:
    collected = GitLabConnector(config(server.url), "gl").fetch_commits(WINDOW)
    got = {c.sha: c for c in collected.records}
    assert set(got) == {_sha(2), _sha(3), _sha(4), _sha(55)}
    two, three, four = got[_sha(2)], got[_sha(3)], got[_sha(4)]
    assert three.ts == T0 - timedelta(minutes=40) and three.authored_at == T0 - timedelta(minutes=100)
    assert (three.additions, three.deletions, three.service) == (30, 3, "payments")
    assert three.files == ["services/payments/retry.rb", "services/payments/client.rb"]
    assert (three.author, three.repo, three.message) == (
        "Jane Doe",
        PROJECT,
        "payments: retry\n\nLonger description.",
    )
    assert two.files == ["services/search/old.rb", "services/search/new.rb"] and two.service == "search"
    assert four.service == "platform"
    # MR 21 was squashed into commit 3; MR 22 fast-forwarded commit 2; MR 23 has no commit listed
    assert (three.merge_request, three.merge_request_title) == (21, "MR 21")
    assert two.merge_request == 22
    mr23 = got[_sha(55)]
    assert (mr23.ts, mr23.merge_request, mr23.branch, mr23.author) == (
        T0 - timedelta(hours=1),
        23,
        "main",
        "jane",
    )
    for record in collected.records:
        Commit.model_validate(record.model_dump())

    first = server.requests_to(f"{BASE}/repository/commits")[0]
    assert (first.arg("since"), first.arg("until")) == ("2024-03-01T04:00:00Z", "2024-03-01T10:30:00Z")
    assert first.arg("with_stats") == "true" and first.arg("per_page") == "100"
    mrs = server.requests_to(f"{BASE}/merge_requests")[0]
    assert (mrs.arg("state"), mrs.arg("updated_after")) == ("merged", "2024-03-01T04:00:00Z")
    assert len(server.requests_to(BASE)) == 1  # the default branch, read once for MR 23 and 24


def test_the_private_token_header_is_sent_and_the_project_path_is_url_encoded(server: FakeServer) -> None:
    GitLabConnector(config(server.url, merge_requests=False, commit_files=False), "gl").fetch_commits(WINDOW)
    assert server.requests and all(r.path == f"{BASE}/repository/commits" for r in server.requests)
    assert {r.headers["private-token"] for r in server.requests} == {TOKEN}
    assert all("authorization" not in r.headers for r in server.requests)


def test_a_configured_branch_is_read_and_targets_merge_requests(server: FakeServer) -> None:
    cfg = config(server.url, commit_files=False)
    cfg.projects[0].branch = "feature-x"
    records = GitLabConnector(cfg, "gl").fetch_commits(WINDOW).records
    assert {r.arg("ref_name") for r in server.requests_to(f"{BASE}/repository/commits")} == {"feature-x"}
    assert _sha(56) in {c.sha for c in records} and _sha(55) not in {c.sha for c in records}
    assert not server.requests_to(BASE)  # the branch is known: no project request


@pytest.mark.parametrize("headers", ["both", "link", "next"])
def test_pagination_follows_x_next_page_or_the_link_header(headers: str) -> None:
    with FakeServer() as fake:
        platform_api(headers=headers, page_size=1).install(fake)
        collected = GitLabConnector(config(fake.url, merge_requests=False), "gl").fetch_commits(WINDOW)
        pages = fake.requests_to(f"{BASE}/repository/commits")
    assert len(collected.records) == 3
    assert [r.arg("page") for r in pages] == [None, "2", "3"]
    assert all(r.arg("since") == "2024-03-01T04:00:00Z" for r in pages)  # the query is kept


def test_next_page_rules() -> None:
    assert next_page({"x-next-page": "3"}, {}) == "3"
    assert next_page({"x-next-page": ""}, {"next": {"url": "http://x/a?page=9"}}) is None  # the last page
    assert next_page({}, {"next": {"url": "http://x/a?per_page=100&page=4"}}) == "4"
    assert next_page({}, {}) is None


def test_the_page_cap_raises_when_the_server_has_more() -> None:
    with FakeServer() as fake:
        platform_api(page_size=1).install(fake)
        with pytest.raises(PageCapReached, match=r"repository/commits: stopped after max_pages=2"):
            GitLabConnector(config(fake.url, max_pages=2, merge_requests=False), "gl").fetch_commits(WINDOW)


def test_a_next_page_that_repeats_is_refused() -> None:
    with FakeServer() as fake:
        fake.route("GET", f"{BASE}/deployments", Reply(json=[], headers={"x-next-page": "1"}))
        with pytest.raises(PayloadError, match="the next page is this page again"):
            GitLabConnector(config(fake.url), "gl").fetch_deploys(WINDOW)


# ---------------------------------------------------------------- deploys


def test_deploy_time_is_the_jobs_finished_at_and_statuses_map(server: FakeServer) -> None:
    collected = GitLabConnector(config(server.url), "gl").fetch_deploys(WINDOW)
    got = {c.id: c for c in collected.records}
    assert sorted(got) == [f"{PROJECT}/deployments/{n}" for n in (1, 2, 3, 4, 5, 7)]
    one = got[f"{PROJECT}/deployments/1"]
    assert one.ts == T0 - timedelta(hours=1)  # the job's finished_at, not updated_at (T0+2h)
    assert (one.status, one.state, one.kind, one.environment) == (
        "succeeded",
        "success",
        "deploy",
        "production",
    )
    assert (one.sha, one.version, one.actor, one.service) == (_sha(101), "main", "root", "platform")
    assert one.url == f"https://gitlab.example.com/{PROJECT}/-/jobs/601"
    assert (got[f"{PROJECT}/deployments/2"].status, got[f"{PROJECT}/deployments/2"].ts) == (
        "failed",
        T0 - timedelta(minutes=30),
    )
    canceled = got[f"{PROJECT}/deployments/3"]
    assert (canceled.status, canceled.state, canceled.version) == ("failed", "canceled", "v2.0.0")
    running = got[f"{PROJECT}/deployments/4"]
    assert (running.status, running.state, running.ts) == (None, "running", T0 - timedelta(minutes=5))
    api_created = got[f"{PROJECT}/deployments/5"]
    assert (api_created.ts, api_created.url) == (T0 - timedelta(hours=2), None)  # no job: updated_at
    assert got[f"{PROJECT}/deployments/7"].environment == "staging"
    assert all(isinstance(c, Change) for c in collected.records)

    first = server.requests_to(f"{BASE}/deployments")[0]
    assert (first.arg("updated_after"), first.arg("updated_before")) == (
        "2024-03-01T04:00:00Z",
        "2024-03-02T10:30:00Z",  # window end + update_margin (1 day)
    )
    assert (first.arg("order_by"), first.arg("sort")) == ("updated_at", "asc")


def test_environment_filter(server: FakeServer) -> None:
    records = (
        GitLabConnector(config(server.url, environments=["staging"]), "gl").fetch_deploys(WINDOW).records
    )
    assert [c.id for c in records] == [f"{PROJECT}/deployments/7"]


def test_an_api_v4_url_is_not_doubled(server: FakeServer) -> None:
    GitLabConnector(config(f"{server.url}/api/v4"), "gl").fetch_deploys(WINDOW)
    assert {r.path for r in server.requests} == {f"{BASE}/deployments"}


def test_numeric_project_ids(server: FakeServer) -> None:
    server.route(
        "GET", "/api/v4/projects/3/deployments", Reply(json=[deployment(9, "success", T0, job=None)])
    )
    cfg = config(server.url)
    cfg.projects[0].project = 3
    [change] = GitLabConnector(cfg, "gl").fetch_deploys(WINDOW).records
    assert change.id == "3/deployments/9" and change.repo == "3"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"updated_at": "2024-03-01T09:00:00"}, r"\[0\] field 'updated_at'.*offset"),
        ({"created_at": None}, r"\[0\] field 'created_at': the timestamp is missing"),
    ],
)
def test_bad_deployments_are_payload_errors_naming_record_and_field(change: dict, message: str) -> None:
    with FakeServer() as fake:
        fake.route(
            "GET", f"{BASE}/deployments", Reply(json=[{**deployment(1, "success", T0, job=None), **change}])
        )
        with pytest.raises(PayloadError, match=r"GET http://.*/deployments\?.* " + message):
            GitLabConnector(config(fake.url), "gl").fetch_deploys(WINDOW)


def test_a_403_without_rate_limit_headers_is_not_retried(server: FakeServer) -> None:
    server.inject("GET", f"{BASE}/deployments", Reply(403, json={"message": "403 Forbidden"}))
    with pytest.raises(HttpError, match=r"HTTP 403 .*403 Forbidden") as err:
        GitLabConnector(config(server.url), "gl").fetch_deploys(WINDOW)
    assert err.value.status == 403 and len(server.requests) == 1


# ---------------------------------------------------------------- config


def test_config_errors_name_the_table_and_field() -> None:
    base = {"type": "gitlab", "projects": [{"project": PROJECT}]}
    settings = connector_config("gl", base).settings
    assert settings.url == "https://gitlab.com" and settings.projects[0].encoded == "acme%2Fplatform"
    with pytest.raises(ConfigError, match=r"\[connectors\.gl\] field 'projects\.0\.project': .*empty"):
        connector_config("gl", {**base, "projects": [{"project": "/"}]})
    with pytest.raises(
        ConfigError, match=r"\[connectors\.gl\] field 'projects': .*listed twice: acme/platform"
    ):
        connector_config("gl", {**base, "projects": [{"project": PROJECT}, {"project": "Acme/Platform/"}]})
    with pytest.raises(ConfigError, match=r"\[connectors\.gl\] field 'projects'"):
        connector_config("gl", {**base, "projects": []})


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"projects": [{"project": PROJECT}], "token": {"env": SECRET_ENV}}, monkeypatch)


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("GITLAB_TOKEN", "t0ken-value")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        assert isinstance(connector_config(name, table).settings, GitLabConfig)


# ---------------------------------------------------------------- conformance


def _build(url: str, secret: str) -> object:
    return CONNECTOR.create(config(url, token=SecretStr(secret), retries=3), "gl")


COMMITS = ConnectorCase(
    capability="commits",
    build=_build,
    script=lambda fake: platform_api().install(fake),
    endpoint=f"{BASE}/repository/commits",
    window=WINDOW,
    min_records=4,
    pages=2,
)
DEPLOYS = ConnectorCase(
    capability="deploys",
    build=_build,
    script=lambda fake: platform_api().install(fake),
    endpoint=f"{BASE}/deployments",
    window=WINDOW,
    min_records=6,
    pages=4,
)


@pytest.mark.parametrize("case", [COMMITS, DEPLOYS], ids=["commits", "deploys"])
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(case, caplog, tmp_path)
