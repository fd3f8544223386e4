"""A scriptable local HTTP server for connector tests (real sockets, no mocks).

    with FakeServer() as server:
        server.route("GET", "/api/items", Reply(429, headers={"Retry-After": "1"}), Reply(json=[1, 2]))
        client = HttpClient(server.url)
        ...
        assert len(server.requests_to("/api/items")) == 2

Each route answers its replies in sequence and repeats the last one; a route can also be a
function of the recorded request (for pagination driven by query parameters). Unknown paths
answer 404. Every request is recorded with its method, path, query, headers and body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted answer: status, headers and a body (bytes, text, or `json=` for a JSON document)."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        """The body bytes and the headers to send."""
        headers = dict(self.headers)
        if self.json is not None:
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.json).encode(), headers
        body = self.body.encode() if isinstance(self.body, str) else self.body
        headers.setdefault("Content-Type", "application/json" if body[:1] in (b"{", b"[") else "text/plain")
        return body, headers


@dataclass
class Recorded:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query (or, for form POSTs, body) parameter."""
        values = self.query.get(name) or self.form().get(name)
        return values[0] if values else default

    def form(self) -> dict[str, list[str]]:
        """The body parsed as application/x-www-form-urlencoded."""
        return parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)


Handler = Callable[[Recorded], Reply]


class _Route:
    def __init__(self, replies: tuple[Reply, ...] | Handler):
        self.replies = replies
        self.front: list[Reply] = []
        self.served = 0

    def next(self, request: Recorded) -> Reply:
        if self.front:
            return self.front.pop(0)
        if callable(self.replies):
            return self.replies(request)
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class FakeServer:
    """ThreadingHTTPServer on 127.0.0.1 (port 0) in a daemon thread, with scripted routes."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], _Route] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route(self, method: str, path: str, *replies: Reply | Handler) -> None:
        """Answer `method path` (method "*" = any) with replies in sequence (last repeats) or a handler."""
        if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
            self.routes[(method.upper(), path)] = _Route(replies[0])
        else:
            if not replies or not all(isinstance(r, Reply) for r in replies):
                raise ValueError("route() takes Reply objects or a single handler function")
            self.routes[(method.upper(), path)] = _Route(replies)  # type: ignore[arg-type]

    def inject(self, method: str, path: str, *replies: Reply) -> None:
        """Serve these replies first on an existing route (fault injection before the scripted answers)."""
        self._find(method.upper(), path).front.extend(replies)

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        """Recorded requests to a path (optionally one method)."""
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def _find(self, method: str, path: str) -> _Route:
        route = self.routes.get((method, path)) or self.routes.get(("*", path))
        if route is None and method == "*":
            route = next((r for (_, p), r in self.routes.items() if p == path), None)
        if route is None:
            raise KeyError(f"no route for {method} {path}")
        return route

    def _serve(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            try:
                return self._find(request.method, request.path).next(request)
            except KeyError:
                return Reply(404, json={"message": f"no route for {request.method} {request.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body writes

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = server._serve(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload, headers = reply.encoded()
                self.send_response(reply.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return _Handler
