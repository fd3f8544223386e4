"""The shared HTTP client against a real local server: retries, rate limits, errors, pagination, redaction."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from connectors.http import BasicAuth, BearerAuth, HeaderAuth, HttpClient
from connectors.http_errors import HttpError, PageCapReached, PayloadError, RateLimited
from connectors.redact import redact_text, redact_url
from tests.connectors.fakeserver import FakeServer, Recorded, Reply

TOKEN = "ghp_PlantedToken1234567890"


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started local server, stopped after the test."""
    with FakeServer() as server:
        yield server


def client(server, **kw) -> HttpClient:
    """A client with fast retries, as tests configure it."""
    return HttpClient(server.url, **{"source": "test", "backoff": 0.0, "retries": 3, **kw})


# ---------------------------------------------------------------- retries and errors


def test_429_with_retry_after_seconds_then_success(fake_server):
    fake_server.route("GET", "/x", Reply(429, headers={"Retry-After": "1"}), Reply(json={"ok": True}))
    began = time.monotonic()
    body, raw = client(fake_server).get_json("/x")
    assert body == {"ok": True}
    assert time.monotonic() - began >= 0.9
    assert len(fake_server.requests_to("/x")) == 2
    assert raw.content == b'{"ok": true}' and raw.content_type == "application/json"


def test_503_with_http_date_retry_after_then_success(fake_server):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
    fake_server.route("GET", "/x", Reply(503, headers={"Retry-After": date}), Reply(json=[1]))
    began = time.monotonic()
    assert client(fake_server).get_json("/x")[0] == [1]
    assert time.monotonic() - began >= 0.9
    assert len(fake_server.requests_to("/x")) == 2


def test_500_then_success(fake_server):
    fake_server.route("GET", "/x", Reply(500, body="boom"), Reply(json=[1]))
    assert client(fake_server).get_json("/x")[0] == [1]
    assert len(fake_server.requests_to("/x")) == 2


def test_persistent_5xx_gives_up_after_bounded_retries(fake_server):
    fake_server.route("GET", "/x", Reply(502, body="bad gateway"))
    with pytest.raises(HttpError, match=r"HTTP 502 .*gave up after 2 retries") as err:
        client(fake_server, retries=2).get_json("/x")
    assert err.value.status == 502
    assert len(fake_server.requests_to("/x")) == 3


def test_post_queries_are_retried_and_the_form_is_kept_in_the_raw_uri(fake_server):
    fake_server.route("POST", "/q", Reply(502), Reply(json={"status": "success"}))
    body, raw = client(fake_server).post_json("/q", data={"query": "up", "step": "15s"})
    assert body == {"status": "success"}
    posts = fake_server.requests_to("/q", "POST")
    assert len(posts) == 2 and posts[1].form() == {"query": ["up"], "step": ["15s"]}
    assert raw.uri.endswith("/q?query=up&step=15s")


def test_github_403_rate_limit_waits_for_the_reset_and_succeeds(fake_server):
    limited = Reply(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 2)},
        json={"message": "API rate limit exceeded"},
    )
    fake_server.route("GET", "/repos", limited, Reply(json=[{"id": 1}]))
    began = time.monotonic()
    assert client(fake_server).get_json("/repos")[0] == [{"id": 1}]
    assert time.monotonic() - began >= 0.9
    assert len(fake_server.requests_to("/repos")) == 2


def test_rate_limit_reset_beyond_max_wait_raises_at_once(fake_server):
    reset = str(int(time.time()) + 3600)
    fake_server.route(
        "GET", "/x", Reply(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    )
    began = time.monotonic()
    with pytest.raises(RateLimited, match=r"rate limited \(403\).*max_wait=5 s"):
        client(fake_server, max_wait=5).get_json("/x")
    assert time.monotonic() - began < 1
    assert len(fake_server.requests_to("/x")) == 1


def test_429_rate_limit_waits_are_capped_by_max_wait(fake_server):
    fake_server.route("GET", "/x", Reply(429, headers={"Retry-After": "3600"}))
    began = time.monotonic()
    with pytest.raises(RateLimited):
        client(fake_server, retries=2, max_wait=0.2).get_json("/x")
    assert time.monotonic() - began < 2
    assert len(fake_server.requests_to("/x")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(fake_server, status):
    fake_server.route("GET", "/x", Reply(status, json={"message": "no"}))
    with pytest.raises(HttpError) as err:
        client(fake_server).get_json("/x")
    assert err.value.status == status
    assert f"HTTP {status}" in str(err.value) and '"message": "no"' in str(err.value)
    assert len(fake_server.requests_to("/x")) == 1


def test_malformed_json_is_a_clear_error_naming_the_url(fake_server):
    fake_server.route("GET", "/api/v1/query", Reply(200, body='{"data": [1, 2'))
    with pytest.raises(
        PayloadError, match=r"GET http://127\.0\.0\.1:\d+/api/v1/query\?q=1: response is not valid JSON"
    ):
        client(fake_server).get_json("/api/v1/query", {"q": "1"})


def test_read_timeout_is_applied(fake_server):
    fake_server.route("GET", "/slow", Reply(json=[1], delay=1.0))
    began = time.monotonic()
    with pytest.raises(HttpError, match="request failed after 0 retries"):
        client(fake_server, retries=0, read_timeout=0.2).get_json("/slow")
    assert time.monotonic() - began < 0.9


def test_auth_headers_are_sent(fake_server):
    fake_server.route("GET", "/x", Reply(json={}))
    client(fake_server, auth=BearerAuth(TOKEN)).get_json("/x")
    client(fake_server, auth=BasicAuth("bob", TOKEN)).get_json("/x")
    client(fake_server, auth=HeaderAuth("PRIVATE-TOKEN", TOKEN)).get_json("/x")
    bearer, basic, header = fake_server.requests_to("/x")
    assert bearer.headers["authorization"] == f"Bearer {TOKEN}"
    assert base64.b64decode(basic.headers["authorization"].split()[1]).decode() == f"bob:{TOKEN}"
    assert header.headers["private-token"] == TOKEN
    assert bearer.headers["user-agent"].startswith("postmortem-connectors/")


# ---------------------------------------------------------------- pagination


def test_paginate_link_follows_next_until_the_last_page(fake_server):
    def pages(req: Recorded) -> Reply:
        page = int(req.arg("page", "1"))
        link = {"Link": f'<{fake_server.url}/items?page={page + 1}>; rel="next"'} if page < 3 else {}
        return Reply(json=[page], headers=link)

    fake_server.route("GET", "/items", pages)
    got = [body for body, _ in client(fake_server).paginate_link("/items", {"state": "all"})]
    assert got == [[1], [2], [3]]
    assert [r.arg("page") for r in fake_server.requests_to("/items")] == [None, "2", "3"]


def test_page_cap_raises_or_warns(fake_server, caplog):
    endless = Reply(json=[1], headers={"Link": f'<{fake_server.url}/items?page=2>; rel="next"'})
    fake_server.route("GET", "/items", endless)
    with pytest.raises(PageCapReached, match="stopped after max_pages=3 pages"):
        list(client(fake_server).paginate_link("/items", max_pages=3))
    assert len(fake_server.requests_to("/items")) == 3
    with caplog.at_level(logging.WARNING):
        pages = list(client(fake_server, max_pages=2).paginate_link("/items", on_cap="warn"))
    assert len(pages) == 2 and "max_pages=2" in caplog.text


def test_link_to_another_origin_is_refused(fake_server):
    fake_server.route(
        "GET", "/items", Reply(json=[1], headers={"Link": '<http://evil.example/steal>; rel="next"'})
    )
    with pytest.raises(HttpError, match="another origin"):
        list(client(fake_server, auth=BearerAuth(TOKEN)).paginate_link("/items"))


def test_paginate_cursor_ends_when_the_cursor_is_empty(fake_server):
    def pages(req: Recorded) -> Reply:
        after = int(req.arg("after", "0"))
        return Reply(json={"items": [after], "next": str(after + 1) if after < 2 else None})

    fake_server.route("GET", "/c", pages)
    got = list(client(fake_server).paginate_cursor("/c", {"limit": 1}, "after", lambda b: b["next"]))
    assert [b["items"] for b, _ in got] == [[0], [1], [2]]
    assert [r.arg("limit") for r in fake_server.requests_to("/c")] == ["1", "1", "1"]


def test_paginate_cursor_cap_and_repeated_cursor(fake_server):
    fake_server.route("GET", "/c", lambda req: Reply(json={"next": str(time.monotonic_ns())}))
    with pytest.raises(PageCapReached):
        list(client(fake_server).paginate_cursor("/c", None, "cursor", lambda b: b["next"], max_pages=4))
    assert len(fake_server.requests_to("/c")) == 4
    fake_server.route("GET", "/same", Reply(json={"next": "abc"}))
    with pytest.raises(PayloadError, match="cursor 'abc' twice"):
        list(client(fake_server).paginate_cursor("/same", None, "cursor", lambda b: b["next"]))


@pytest.mark.parametrize(("total", "requests"), [(5, 3), (4, 3), (0, 1)])
def test_paginate_page_stops_on_a_short_page(fake_server, total, requests):
    def pages(req: Recorded) -> Reply:
        page, size = int(req.arg("page")), int(req.arg("per_page"))
        return Reply(json={"values": list(range(total))[(page - 1) * size : page * size]})

    fake_server.route("GET", "/p", pages)
    got = list(client(fake_server).paginate_page("/p", per_page=2, items=lambda b: b["values"]))
    assert sum(len(b["values"]) for b, _ in got) == total
    assert len(fake_server.requests_to("/p")) == requests


def test_paginate_offset_and_its_cap(fake_server):
    fake_server.route("GET", "/o", lambda req: Reply(json=list(range(int(req.arg("offset")), 100))[:10]))
    got = list(client(fake_server).paginate_offset("/o", limit=10, max_pages=20))
    assert [r.arg("offset") for r in fake_server.requests_to("/o")] == [str(10 * i) for i in range(11)]
    assert sum(len(b) for b, _ in got) == 100
    with pytest.raises(PageCapReached):
        list(client(fake_server).paginate_offset("/o", limit=10, max_pages=5))


def test_paginate_page_rejects_a_non_list_page(fake_server):
    fake_server.route("GET", "/p", Reply(json={"values": []}))
    with pytest.raises(PayloadError, match="expected a JSON list"):
        list(client(fake_server).paginate_page("/p"))


# ---------------------------------------------------------------- redaction


def test_a_planted_token_never_shows(fake_server, caplog):
    caplog.set_level(logging.DEBUG)
    echo = Reply(404, body=f"no such thing for token {TOKEN}")
    fake_server.route("GET", "/x", Reply(500), Reply(json=[1]))
    fake_server.route("GET", "/missing", echo)
    c = client(fake_server, auth=BearerAuth(TOKEN))
    _, raw = c.get_json("/x", {"access_token": TOKEN, "api-key": TOKEN, "q": "up"})
    with pytest.raises(HttpError) as err:
        c.get_json("/missing", {"token": TOKEN})
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    with pytest.raises(HttpError) as refused:
        HttpClient(f"http://127.0.0.1:{port}", retries=1, backoff=0).get_json("/y", {"sig": TOKEN})
    assert fake_server.requests_to("/x")[0].headers["authorization"] == f"Bearer {TOKEN}"
    for text in (repr(c), caplog.text, str(err.value), raw.uri, str(refused.value), err.value.body):
        assert TOKEN not in text
    assert "access_token=REDACTED" in raw.uri and "q=up" in raw.uri
    assert "token=REDACTED" in caplog.text


def test_redact_url_and_text():
    assert redact_url("https://u:pw@h/p?Token=a&page=2&X-Amz-Signature=s") == (
        "https://u:REDACTED@h/p?Token=REDACTED&page=2&X-Amz-Signature=REDACTED"
    )
    assert redact_url("https://h/p?page=2&q=a%20b") == "https://h/p?page=2&q=a%20b"
    text = "GET /a?password=hunter2&x=1 failed; see https://bob:pw@h/ and apikey=zz"
    assert (
        redact_text(text)
        == "GET /a?password=REDACTED&x=1 failed; see https://bob:REDACTED@h/ and apikey=REDACTED"
    )
    assert redact_text("value s3cr3t-xyz here", ["s3cr3t-xyz"]) == "value REDACTED here"
    assert (
        redact_text("GET /a?token=abc: HTTP 401 (auth=xyz).")
        == "GET /a?token=REDACTED: HTTP 401 (auth=REDACTED)."
    )
