"""A clean incident bundle with every dataset, and one planted defect of each kind per dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.bundle import Bundle, load_bundle, write_bundle

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # impact start; the evidence window is 04:00 .. 11:30
INCIDENT: dict[str, Any] = {
    "id": "INC-9",
    "title": "Checkout errors",
    "severity": "SEV2",
    "status": "resolved",
    "services": ["checkout"],
    "started_at": "2026-03-02T10:00:00Z",
    "detected_at": "2026-03-02T10:05:00Z",
    "acknowledged_at": "2026-03-02T10:07:00Z",
    "mitigated_at": "2026-03-02T10:40:00Z",
    "resolved_at": "2026-03-02T11:00:00Z",
}
OLD = "2026-03-01T00:00:00Z"  # before the evidence window
SHA40 = "0123456789abcdef0123456789abcdef01234567"


def at(minutes: float) -> str:
    """ISO time `minutes` after the impact start."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def series(
    metric: str, first: int, last: int, skip: range = range(0), service: str = "checkout"
) -> list[dict]:
    """One sample a minute from `first` to `last` minutes after the impact start, minus `skip`."""
    return [
        {"ts": at(m), "service": service, "metric": metric, "value": 100.0 + m % 7}
        for m in range(first, last + 1)
        if m not in skip
    ]


def clean() -> dict[str, list[dict[str, Any]]]:
    """Every dataset, each record valid for every check."""
    return {
        "alerts": [
            {
                "id": "a1",
                "ts": at(4),
                "ends_at": at(30),
                "status": "firing",
                "service": "checkout",
                "name": "X",
            },
            {"id": "a2", "ts": at(10), "status": "resolved", "service": "checkout", "name": "Y"},
        ],
        "metrics": series("latency_p99", -5, 65) + series("error_rate", -5, 65),
        "logs": [
            {"ts": at(1), "service": "checkout", "level": "info", "message": "ok"},
            {"ts": at(2), "service": "checkout", "level": "ERROR", "message": "boom"},
            {"ts": at(3), "service": "checkout", "level": "Warn", "message": "slow"},
        ],
        "commits": [
            {"sha": SHA40, "ts": at(-60), "service": "checkout"},
            {"sha": "abc1234", "ts": at(-50), "service": "checkout"},
        ],
        "deploys": [
            {
                "id": "d1",
                "ts": at(-5),
                "service": "checkout",
                "status": "succeeded",
                "kind": "deploy",
                "environment": "production",
                "sha": "abc1234",
            },
            {
                "id": "d2",
                "ts": at(39),
                "service": "checkout",
                "status": "rolled_back",
                "kind": "rollback",
                "environment": "production",
            },
        ],
        "chat": [{"ts": at(6), "channel": "#inc", "user": "ann", "text": "looking"}],
        "tickets": [{"key": "T-1", "ts": at(8), "title": "Checkout errors", "status": "open"}],
    }


ACTIONS = [{"title": "Alert on checkout p99 > 800 ms", "type": "detect"}]


def _like(name: str, **changes: Any) -> dict[str, Any]:
    """The first clean record of a dataset with some fields changed (None removes a field)."""
    record = {**clean()[name][0], **changes}
    return {k: v for k, v in record.items() if v is not None}


# dataset -> (case id, records added, records removed by (ts, metric), the check it must fail, count)
# a duplicate counts every row of its group, the first occurrence included, as in GX
DEFECTS: dict[str, list[tuple[str, list[dict[str, Any]], str, int]]] = {
    "alerts": [
        ("duplicate id", [_like("alerts", ts=at(5))], "id_unique", 2),
        ("old", [_like("alerts", id="a3", ts=OLD, ends_at=None)], "ts_in_window", 1),
        ("unknown status", [_like("alerts", id="a4", status="pending")], "status_in_set", 1),
        ("ends before start", [_like("alerts", id="a5", ts=at(20), ends_at=at(10))], "ends_after_start", 1),
        ("no service", [_like("alerts", id="a6", service=None)], "service_not_null", 1),
    ],
    "metrics": [
        ("duplicate point", [{**series("error_rate", 0, 0)[0], "value": 5.0}], "one_value_per_ts", 2),
        (
            "not a number",
            [{"ts": at(30.5), "service": "checkout", "metric": "error_rate", "value": "n/a"}],
            "value_numeric",
            1,
        ),
        ("old", [{"ts": OLD, "service": "checkout", "metric": "cpu", "value": 1.0}], "ts_in_window", 1),
        ("late series", series("saturation", 30, 65), "covers_incident", 1),
    ],
    "logs": [
        (
            "unknown level",
            [{"ts": at(4), "service": "checkout", "level": "verbose", "message": "x"}],
            "level_in_set",
            1,
        ),
        ("old", [{"ts": OLD, "service": "checkout", "level": "info", "message": "old"}], "ts_in_window", 1),
        ("no service", [{"ts": at(5), "level": "info", "message": "who"}], "service_not_null", 1),
    ],
    "commits": [
        ("duplicate sha", [{"sha": SHA40, "ts": at(-40), "service": "checkout"}], "sha_unique", 2),
        ("bad sha", [{"sha": "not-a-sha", "ts": at(-30), "service": "checkout"}], "sha_format", 1),
        ("old", [{"sha": "def5678", "ts": OLD, "service": "checkout"}], "ts_in_window", 1),
        ("no service", [{"sha": "fed8765", "ts": at(-20)}], "service_not_null", 1),
    ],
    "deploys": [
        ("duplicate id", [_like("deploys", ts=at(-4))], "id_unique", 2),
        ("unknown status", [_like("deploys", id="d3", status="exploded")], "status_in_set", 1),
        ("unknown kind", [_like("deploys", id="d4", kind="teleport")], "kind_in_set", 1),
        ("no environment", [_like("deploys", id="d5", environment=None)], "environment_not_null", 1),
        ("unknown environment", [_like("deploys", id="d6", environment="moon")], "environment_in_set", 1),
        ("bad sha", [_like("deploys", id="d7", sha="zzz")], "sha_format", 1),
        ("old", [_like("deploys", id="d8", ts=OLD)], "ts_in_window", 1),
        ("no service", [_like("deploys", id="d9", service=None)], "service_not_null", 1),
    ],
    "chat": [
        ("old", [{"ts": OLD, "text": "old"}], "ts_in_window", 1),
        ("no text", [{"ts": at(7), "user": "bob"}], "text_not_null", 1),
    ],
    "tickets": [
        ("duplicate key", [{"key": "T-1", "ts": at(9), "status": "open"}], "key_unique", 2),
        ("old", [{"key": "T-2", "ts": OLD, "status": "open"}], "ts_in_window", 1),
        ("unknown status", [{"key": "T-3", "ts": at(9), "status": "lost"}], "status_in_set", 1),
    ],
}
GAP_SERIES = series("latency_p99", -5, 65, skip=range(20, 30))  # misses 10 scrapes in a row
INCIDENT_DEFECTS: list[tuple[str, dict[str, Any], str]] = [
    ("milestones out of order", {"mitigated_at": at(3)}, "milestones_in_order"),
    ("no service", {"services": []}, "services_not_empty"),
    ("unknown status", {"status": "sleeping"}, "status_in_set"),
]


def write(root: Path, datasets: dict[str, list[dict[str, Any]]] | None = None, **incident: Any) -> Bundle:
    """Write and read back a bundle (clean datasets and actions unless given)."""
    return load_bundle(
        write_bundle(
            root, {**INCIDENT, **incident}, clean() if datasets is None else datasets, actions=ACTIONS
        )
    )
