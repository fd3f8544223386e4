"""What people wrote: the incident channel, deploy-bot posts, everyday chatter, and tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from postmortem.generator.changes import iso
from postmortem.generator.story import Story, minutes
from postmortem.generator.vocab import (
    BACKGROUND_TICKETS,
    CHANNELS_CHATTER,
    CHATTER,
    PEOPLE,
    SUPPORT_TITLES,
    TEAM_CHATTER,
)

DURING = (
    "watching the {edge} dashboards",
    "+1, seeing the same",
    "any ETA I can give to support?",
    "{root} pods look healthy from the Kubernetes side, no restarts",
    "error budget for {edge} is burning fast",
    "customers on social media are noticing",
    "checked the {gateway} logs, the failing requests all go through {root}",
    "is there anything in the change log besides what we've seen?",
    "pulling up the traces now",
    "I'll update the status page every 15 minutes",
)
AFTER = (
    "monitoring, all green so far",
    "error rate flat at baseline on {edge}",
    "support reports the complaints are slowing down",
    "I'll take notes for the timeline",
    "keeping the incident open a bit longer to be sure",
    "latency on {root} back to normal",
)


def _pick(rng: np.random.Generator, pool: tuple[str, ...] | list[str]) -> str:
    return pool[int(rng.integers(len(pool)))]


def _at(base: datetime, rng: np.random.Generator, lo: float, hi: float) -> datetime:
    return base + timedelta(seconds=round(float(rng.uniform(lo, hi)) * 60))


def build_chat(
    rng: np.random.Generator, story: Story, changes: list[dict], chatter: int | None
) -> list[dict]:
    """Chat messages sorted by time: the incident channel, #deploys posts and background chatter."""
    channel = f"#{story.incident_id.lower()}"
    anchors = {
        "onset": story.onset,
        "first_alert": story.first_alert,
        "acknowledged": story.acknowledged,
        "mitigated": story.mitigated,
        "resolved": story.resolved,
    }
    msgs: list[tuple[datetime, str, str, str]] = []
    previous = story.first_alert
    for line in story.scenario.chat:
        ts = max(_at(anchors[line.anchor], rng, line.lo, line.hi), previous + timedelta(seconds=10))
        previous = ts
        msgs.append((ts, channel, story.people[line.role], story.fmt(line.text)))
    pager = "pagerduty"
    msgs.append(
        (story.first_alert, channel, pager, story.fmt("triggered: {alert_name} on {first_alert_service}"))
    )
    msgs.append((story.acknowledged, channel, pager, f"acknowledged by {story.people['oncall']}"))
    msgs.append((story.resolved, channel, pager, "resolved"))
    responders = [story.people[k] for k in ("responder", "support", "extra1", "extra2", "extra3")]
    for start, end, pool, count in (
        (story.acknowledged, story.mitigated, DURING, int(rng.integers(10, 25))),
        (story.mitigated, story.resolved, AFTER, int(rng.integers(4, 10))),
    ):
        span = (end - start).total_seconds() / 60
        order = rng.permutation(len(pool))  # cycle through the pool so lines rarely repeat
        for k in range(count):
            ts = _at(start, rng, 0.5, span - 0.5)
            msgs.append((ts, channel, _pick(rng, responders), story.fmt(pool[int(order[k % len(pool)])])))
    for rec in changes:
        ts = datetime.fromisoformat(rec["ts"]) + timedelta(seconds=int(rng.integers(5, 90)))
        what = rec["version"] or rec["description"]
        msgs.append(
            (
                ts,
                "#deploys",
                "deploy-bot",
                f"{rec['kind']} {rec['service']} {what} to {rec['environment']} by {rec['actor']}: "
                f"{rec['status']} ({rec['id']})",
            )
        )
    msgs += _chatter(rng, story, int(rng.integers(60, 140)) if chatter is None else chatter)
    return [
        {"ts": iso(ts), "channel": ch, "user": user, "text": text}
        for ts, ch, user, text in sorted(msgs, key=lambda m: (m[0], m[1], m[2]))
    ]


def _chatter(rng: np.random.Generator, story: Story, count: int) -> list[tuple[datetime, str, str, str]]:
    """Everyday messages in other channels, unrelated to the incident."""
    apps = story.graph.of_kind("edge", "gateway", "app")
    span = (story.window_end - story.window_start).total_seconds() / 60
    out = []
    for _ in range(count):
        service = _pick(rng, apps)
        if rng.random() < 0.3:
            channel, text = f"#team-{service}", _pick(rng, TEAM_CHATTER)
        else:
            channel, text = _pick(rng, CHANNELS_CHATTER), _pick(rng, CHATTER)
        ts = _at(story.window_start, rng, 0, span)
        out.append(
            (ts, channel, _pick(rng, PEOPLE), text.format(svc=service, n=int(rng.integers(1000, 9999))))
        )
    return out


def build_tickets(rng: np.random.Generator, story: Story, title: str) -> list[dict]:
    """The incident and postmortem tickets, customer support tickets during impact, and backlog noise."""
    org = story.org
    ops = int(rng.integers(1000, 9000))
    rows = [
        (story.first_alert + minutes(rng, 1, 3), f"OPS-{ops}", title, "resolved"),
        (story.resolved + minutes(rng, 1, 5), f"OPS-{ops + 1}", f"Postmortem: {title}", "open"),
    ]
    support = int(rng.integers(20, 50)) * {"SEV1": 2, "SEV2": 1}.get(story.severity, 1)
    sup = int(rng.integers(20000, 90000))
    impact = (story.mitigated - story.onset).total_seconds() / 60
    for i in range(support):
        ts = _at(story.onset, rng, 3, impact + 20)
        text = story.fmt(_pick(rng, SUPPORT_TITLES))
        status = "solved" if ts < story.mitigated and rng.random() < 0.6 else _pick(rng, ("open", "pending"))
        rows.append((ts, f"SUP-{sup + i}", text, status))
    apps = story.graph.of_kind("edge", "gateway", "app")
    span = (story.window_end - story.window_start).total_seconds() / 60
    eng = int(rng.integers(100, 5000))
    for i in range(int(rng.integers(40, 80))):
        text = _pick(rng, BACKGROUND_TICKETS).format(svc=_pick(rng, apps))
        status = _pick(rng, ("open", "in_progress", "done", "done"))
        rows.append((_at(story.window_start, rng, 0, span), f"ENG-{eng + i}", text, status))
    return [
        {
            "key": key,
            "ts": iso(ts),
            "title": text,
            "status": status,
            "url": f"https://tracker.{org}.example.com/browse/{key}",
        }
        for ts, key, text, status in sorted(rows, key=lambda r: (r[0], r[1]))
    ]
