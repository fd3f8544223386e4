"""Log templating and burst mining on synthetic log frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from connectors.bundle import load_bundle, write_bundle
from postmortem.model import Incident, Onset
from tasks import log_patterns
from tasks.log_patterns import mask_messages, mine_log_patterns, template_of

ONSET = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "request 3f2a9c1e-1234-4abc-8def-0123456789ab failed after 120ms",
            "request 11111111-2222-4333-8444-555555555555 failed after 3.5s",
        ),
        ("upstream 10.0.0.12:8080 refused connection", "upstream 192.168.4.7:443 refused connection"),
        ("upstream [2001:db8::1]:5432 refused connection", "upstream [fe80::a]:6432 refused connection"),
        ("span 9f86d081884c7d65 ptr 0x7ffd5e2c", "span 4935956134520585 ptr 0xdeadbeef"),
        ("GET /api/orders?id=42&page=3 -> 200", "GET /api/orders?id=7&page=12 -> 503"),
        ('user bob@example.com asked for "gold plan" (512MB)', 'user al@corp.io asked for "free" (1.5GB)'),
        (
            "pod checkout-7d9f8b6c5-x2k4z OOMKilled at 2025-03-04T10:01:02Z",
            "pod checkout-55c6-abcde OOMKilled at 09:59:01",
        ),
        ("can't reach   db   after 3 retries", "can't reach db after 12 retries"),
    ],
)
def test_messages_differing_only_in_variables_share_a_template(first: str, second: str) -> None:
    a, b = mask_messages(pd.Series([first, second]))
    assert a == b
    assert not any(ch.isdigit() for ch in a.replace("->", ""))
    assert template_of(pd.Series([first, second])).nunique() == 1


def test_typed_tokens_and_different_shapes() -> None:
    templates = mask_messages(
        pd.Series(
            [
                "request 3f2a9c1e-1234-4abc-8def-0123456789ab failed after 120ms from 10.0.0.1:80",
                "request 3f2a9c1e-1234-4abc-8def-0123456789ab succeeded after 120ms from 10.0.0.1:80",
                "payment 17 declined: card expired",
                None,
                """it's "x" or 'y' at 50% (-3.5%) since 2025-03-04 10:00 via [fe80::a]:80 and ::1""",
            ],
            index=[10, 11, 12, 13, 14],
        )
    )
    assert templates[10] == "request <UUID> failed after <DURATION> from <IP>"
    assert templates[11] == "request <UUID> succeeded after <DURATION> from <IP>"
    assert templates[12] == "payment <NUM> declined: card expired"
    assert pd.isna(templates[13])
    assert templates[14] == "it's <STR> or <STR> at <NUM>% (<NUM>%) since <TS> via <IP> and <IP>"
    assert list(templates.index) == [10, 11, 12, 13, 14]


VACUUM = [
    "automatic vacuum of table events: index scans: 3",
    "automatic vacuum of table orders: index scans: 12",
    "automatic vacuum of table line_items: index scans: 0",
    "checkpoint complete: wrote 120 buffers",
    None,
]


def test_drain_collapses_words_that_vary_in_one_position() -> None:
    templates = template_of(pd.Series(VACUUM, index=[5, 6, 7, 8, 9]))
    assert list(templates[:3]) == ["automatic vacuum of table <*> index scans: <NUM>"] * 3
    assert templates[8] == "checkpoint complete: wrote <NUM> buffers"
    assert pd.isna(templates[9])
    assert list(templates.index) == [5, 6, 7, 8, 9]


def test_drain_templates_do_not_depend_on_line_order() -> None:
    messages = pd.Series(VACUUM[:4] * 3 + ["user alice logged in", "user bob logged in", "user x logged out"])
    expected = template_of(messages)
    shuffled = messages.sample(frac=1.0, random_state=3)
    assert template_of(shuffled).sort_index().equals(expected)


def test_groups_keep_drain_clusters_apart() -> None:
    messages = pd.Series(["request to db completed after 12ms", "request to db failed after 900ms"])
    assert template_of(messages).nunique() == 1  # one word differs: Drain merges them
    split = template_of(messages, groups=pd.Series(["info", "error"]))
    assert list(split) == [
        "request to db completed after <DURATION>",
        "request to db failed after <DURATION>",
    ]


def logs_frame(rows: list[tuple[datetime, str, str, str]]) -> pd.DataFrame:
    """A logs frame shaped like the bundle reader's output."""
    ts, service, level, message = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(list(ts), utc=True).astype("datetime64[ns, UTC]"),
            "service": list(service),
            "level": list(level),
            "message": list(message),
            "attrs": None,
            "_line": np.arange(1, len(rows) + 1),
        }
    )


def steady_and_burst() -> pd.DataFrame:
    """Steady info traffic for 2 h, then a new error template bursts from the onset."""
    rows = [
        (ONSET + timedelta(minutes=m - 120), "payments", "info", f"served order {m} in {m % 90}ms")
        for m in range(0, 180)
    ]
    rows += [
        (
            ONSET + timedelta(minutes=2, seconds=s),
            "payments",
            "error",
            f"db pool exhausted after {s}ms (conn {s % 7})",
        )
        for s in range(0, 600, 10)
    ]
    rows.append((ONSET + timedelta(minutes=3), "checkout", "info", "cache warmed for tenant 42"))
    return logs_frame(rows)


def test_new_error_burst_ranks_above_steady_info() -> None:
    incident = Incident(id="I", severity="SEV2", started_at=ONSET, resolved_at=ONSET + timedelta(hours=1))
    patterns = mine_log_patterns(steady_and_burst(), incident, Onset(ts=ONSET))
    top = patterns[0]
    assert top.template == "db pool exhausted after <DURATION> (conn <NUM>)"
    assert (top.service, top.new, top.baseline_count, top.count) == ("payments", True, 0, 60)
    assert top.first_seen == ONSET + timedelta(minutes=2)
    steady = next(p for p in patterns if p.template.startswith("served order"))
    assert steady.new is False and steady.baseline_count == 115  # 120 minutes minus the 5 min guard
    assert steady.count == 65  # the incident window opens 5 min (the guard) before the onset
    assert top.score > steady.score
    scores = [p.score for p in patterns]
    assert scores == sorted(scores, reverse=True)
    # a one-off new info line scores below the new error burst but above steady traffic
    one_off = next(p for p in patterns if p.service == "checkout")
    assert top.score > one_off.score > steady.score


def test_windows_follow_the_onset_else_the_incident_start_and_stop_at_resolution() -> None:
    logs = steady_and_burst()
    short = Incident(id="I", severity="SEV2", started_at=ONSET, resolved_at=ONSET + timedelta(minutes=5))
    patterns = mine_log_patterns(logs, short, Onset())  # no onset: incident start is the reference
    burst = next(p for p in patterns if p.template.startswith("db pool"))
    assert burst.count == 19  # 10:02:00 .. 10:05:00 every 10 s


def test_limit_and_empty_inputs() -> None:
    incident = Incident(id="I", severity="SEV2", started_at=ONSET)
    assert len(mine_log_patterns(steady_and_burst(), incident, Onset(ts=ONSET), limit=1)) == 1
    assert mine_log_patterns(logs_frame([(ONSET, "a", "info", "x")]).iloc[:0], incident, Onset()) == []
    assert mine_log_patterns(steady_and_burst(), Incident(id="I", severity="SEV2"), Onset()) == []


def test_error_new_after_onset_is_not_hidden_in_a_baseline_info_template_of_the_same_shape() -> None:
    rows = [
        (ONSET + timedelta(minutes=m - 120), "orders", "info", f"request to db completed after {m % 50}ms")
        for m in range(0, 180)
    ]
    rows += [
        (ONSET + timedelta(minutes=1, seconds=s), "orders", "error", f"request to db failed after {s}ms")
        for s in range(0, 300, 5)
    ]
    incident = Incident(id="I", severity="SEV2", started_at=ONSET, resolved_at=ONSET + timedelta(hours=1))
    patterns = mine_log_patterns(logs_frame(rows), incident, Onset(ts=ONSET))
    top, steady = patterns
    assert (top.template, top.new, top.baseline_count, top.count) == (
        "request to db failed after <DURATION>",
        True,
        0,
        60,
    )
    assert top.first_seen == ONSET + timedelta(minutes=1)
    assert (steady.template, steady.new, steady.baseline_count) == (
        "request to db completed after <DURATION>",
        False,
        115,
    )


def test_without_baseline_nothing_is_flagged_new() -> None:
    logs = steady_and_burst()
    logs = logs[logs["ts"] >= ONSET]
    patterns = mine_log_patterns(logs, Incident(id="I", severity="SEV2"), Onset(ts=ONSET))
    assert patterns and not any(p.new for p in patterns)
    assert patterns[0].service == "payments" and patterns[0].template.startswith("db pool")


def test_large_log_frame_is_vectorised() -> None:
    rng = np.random.default_rng(1)
    n = 200_000
    names = [a + b for a in "abcdefghij" for b in "vwxyz"]
    shapes = np.array([f"stage {name} took {{}}ms for user {{}}" for name in names], dtype=object)
    pool = np.array(
        [s.format(i % 1000, i) for i, s in enumerate(shapes[rng.integers(0, 50, 5000)])], dtype=object
    )
    logs = pd.DataFrame(
        {
            "ts": pd.Timestamp(ONSET) + pd.to_timedelta(rng.integers(-7200, 3600, n), unit="s"),
            "service": "svc",
            "level": "info",
            "message": pool[rng.integers(0, len(pool), n)],
        }
    )
    assert mask_messages(logs["message"]).nunique() == 50  # the stage names are words: masking keeps them
    templates = template_of(logs["message"])  # ... and Drain finds they vary in one position
    assert set(templates) == {"stage <*> took <DURATION> for user <NUM>"}
    patterns = mine_log_patterns(logs, Incident(id="I", severity="SEV2"), Onset(ts=ONSET), limit=100)
    assert [p.template for p in patterns] == ["stage <*> took <DURATION> for user <NUM>"]
    assert patterns[0].count == int((logs["ts"] >= pd.Timestamp(ONSET) - log_patterns.GUARD).sum())


def test_logs_read_from_a_bundle(tmp_path) -> None:
    records = [
        {"ts": ts.isoformat(), "service": svc, "level": level, "message": msg, "attrs": {"k": 1}}
        for ts, svc, level, msg in steady_and_burst().drop(columns=["attrs", "_line"]).itertuples(index=False)
    ]
    root = write_bundle(tmp_path / "b", {"id": "I", "severity": "SEV2"}, {"logs": records})
    patterns = mine_log_patterns(
        load_bundle(root).frames["logs"], Incident(id="I", severity="SEV2"), Onset(ts=ONSET)
    )
    assert patterns[0].template == "db pool exhausted after <DURATION> (conn <NUM>)"
    assert patterns[0].first_seen == ONSET + timedelta(minutes=2)


def test_parallel_masking_gives_the_serial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    messages = pd.Series(
        [
            f"job {i} on 10.0.{i % 250}.{i % 7} took {rng.integers(1, 999)}ms: {w}"
            for i, w in enumerate(rng.choice(["ok", "retry", "  spaced\tout"], 3000))
        ]
    )
    serial = mask_messages(messages)
    monkeypatch.setattr(log_patterns, "PARALLEL_FROM", 10)  # the CPUs this process may use (2 here)
    assert mask_messages(messages).equals(serial)
    assert set(serial) == {
        "job <NUM> on <IP> took <DURATION>: ok",
        "job <NUM> on <IP> took <DURATION>: retry",
        "job <NUM> on <IP> took <DURATION>: spaced out",
    }
