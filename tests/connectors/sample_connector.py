"""A small but complete HTTP connector used to test the foundation (and shown in docs/connectors/index.md).

API of the imaginary vendor: `GET /api/points?start=..&end=..` (Link-paginated list of
{"t", "svc", "name", "v"}) and `GET /api/releases?page=N&per_page=M` (numbered pages).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field

from connectors.base import Collected, Window
from connectors.config import HttpConfig, SecretRef
from connectors.http import BearerAuth
from connectors.registry import ConnectorType
from postmortem.model import Change, MetricPoint
from tests.connectors.fakeserver import FakeServer, Recorded, Reply


class SampleConfig(HttpConfig):
    """`[connectors.<name>]` of type "sample"."""

    token: SecretRef = Field(description="API token")
    environment: str = Field("production", description="environment of the releases")


class SampleConnector:
    """Metrics and deploys from the sample vendor."""

    def __init__(self, config: SampleConfig, name: str):
        self.name = name
        self.config = config
        self.client = config.client(name, auth=BearerAuth(config.token))

    def __repr__(self) -> str:
        return f"SampleConnector(name={self.name!r}, client={self.client!r})"

    def fetch_metrics(self, window: Window) -> Collected:
        """Metric points of the window (Link pagination)."""
        params = {"start": window.start.isoformat(), "end": window.end.isoformat()}
        records, raw = [], []
        for body, payload in self.client.paginate_link("/api/points", params):
            raw.append(payload)
            records += [
                MetricPoint(ts=p["t"], service=p["svc"], metric=p["name"], value=p["v"]) for p in body
            ]
        return Collected("metrics", records, raw)

    def fetch_deploys(self, window: Window) -> Collected:
        """Releases deployed inside the window (numbered pages)."""
        records, raw = [], []
        for body, payload in self.client.paginate_page(
            "/api/releases", {"env": self.config.environment}, per_page=2
        ):
            raw.append(payload)
            for r in body:
                ts = datetime.fromisoformat(r["at"])
                if window.start <= ts < window.end:
                    records.append(
                        Change(id=r["id"], ts=ts, service=r["svc"], kind="deploy", status="succeeded")
                    )
        return Collected("deploys", records, raw)


CONNECTOR = ConnectorType(
    type="sample",
    config=SampleConfig,
    factory=SampleConnector,
    capabilities=("metrics", "deploys"),
    summary="the sample vendor: metric points and releases",
)


T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
RELEASES = [
    {"id": "rel-1", "at": (T0 - timedelta(minutes=30)).isoformat(), "svc": "checkout"},
    {"id": "rel-2", "at": (T0 - timedelta(minutes=5)).isoformat(), "svc": "payments"},
    {"id": "rel-3", "at": (T0 - timedelta(days=3)).isoformat(), "svc": "checkout"},
]


def _points(page: int) -> list[dict]:
    return [
        {"t": (T0 + timedelta(minutes=i)).isoformat(), "svc": "checkout", "name": "error_rate", "v": 0.01 * i}
        for i in range(3 * (page - 1), 3 * page)
    ]


def script(server: FakeServer) -> None:
    """Install the sample vendor's API on a FakeServer: 2 pages of points (6), 2 pages of releases (3)."""

    def points(req: Recorded) -> Reply:
        page = int(req.arg("page", "1"))
        link = {"Link": f'<{server.url}/api/points?page={page + 1}>; rel="next"'} if page < 2 else {}
        return Reply(json=_points(page), headers=link)

    def releases(req: Recorded) -> Reply:
        page, size = int(req.arg("page")), int(req.arg("per_page"))
        return Reply(json=RELEASES[(page - 1) * size : page * size])

    server.route("GET", "/api/points", points)
    server.route("GET", "/api/releases", releases)
