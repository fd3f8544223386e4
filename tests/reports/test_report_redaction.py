"""Secrets planted all over an analysis never reach either rendered report."""

from __future__ import annotations

from postmortem.model import (
    ChangeCandidate,
    Gap,
    LogPattern,
    QualityResult,
    Quarantined,
    RejectedChange,
    TimelineEvent,
)
from reports.redact import REDACTED
from reports.render import render_reports
from reports.view_model import build_view_model
from tests.reports import sample

SECRETS = {
    "chat_bearer": "chatBearer9f8e7d6c5b4a",
    "chat_password": "ChatPw77391",
    "chat_pem": "MIIEowIBAAKCAQEAplantedkeymaterial",
    "log_token": "LogTok3nQ8r7s6",
    "evidence_github": "ghp_" + "Ev1dencE2tokenABCDEFGHIJKLMNOPQRSTUV",
    "summary_aws": "AKIAPLANTED123456789",
    "summary_slack": "xoxb-998877665544-plantedslack",
    "change_url_pw": "UrlPassw0rd55",
    "change_url_token": "QueryTok9988",
    "ticket_url_token": "TicketApiKey4455",
    "quality_example": "QualityPw3141",
    "quarantine_reason": "QuarantineSecret2718",
    "impact_key": "ImpactKeyValue1618",
    "request_jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlcGxhbnRlZA",
    "rejected_reason": "RejectedSecret7777",
    "gap_detail": "GapPass8080",
    "definition": "DefinitionToken4242",
}


def _planted():
    s = SECRETS
    pem = f"-----BEGIN PRIVATE KEY-----\n{s['chat_pem']}\n-----END PRIVATE KEY-----"
    timeline = [
        *sample.timeline(),
        TimelineEvent(
            ts=sample.at(12),
            source="chat",
            kind="message",
            summary=f"ana: try curl -H 'Authorization: Bearer {s['chat_bearer']}'",
        ),
        TimelineEvent(
            ts=sample.at(13),
            source="chat",
            kind="message",
            summary=f"li.wei: db password={s['chat_password']}",
        ),
        TimelineEvent(ts=sample.at(14), source="chat", kind="message", summary=f"oops pasted:\n{pem}"),
        TimelineEvent(
            ts=sample.at(-14),
            source="deploys",
            kind="deploy",
            service="payments",
            summary="payments v2.14.0",
            ref=f"https://deployer:{s['change_url_pw']}@ci.example.com/d/41?token={s['change_url_token']}",
        ),
    ]
    rc = sample.root_cause()
    primary = rc.changes[0].model_copy(
        update={"evidence": [f"commit message: use {s['evidence_github']} for pushes"]}
    )
    contributory = ChangeCandidate(
        id="cfg-9",
        kind="config",
        service="checkout",
        ts=sample.at(-5),
        score=0.3,
        confidence="low",
        role="contributory",
        evidence=[f"set api_key: {s['log_token']}x"],
    )
    root_cause = rc.model_copy(
        update={
            "changes": [primary, contributory],
            "log_patterns": [
                LogPattern(
                    template=f"auth failed for token={s['log_token']} user <*>",
                    service="payments",
                    count=9,
                    first_seen=sample.at(1),
                    score=0.9,
                    new=True,
                ),
                *rc.log_patterns,
            ],
            "rejected_changes": [
                RejectedChange(
                    id="dep-x",
                    kind="deploy",
                    service="web",
                    ts=sample.at(-40),
                    score=0.01,
                    reason=f"after onset; secret={s['rejected_reason']}",
                ),
            ],
            "evidence_requests": [f"replay with session {s['request_jwt']}"],
        }
    )
    incident = sample.incident(
        summary=f"Key {s['summary_aws']} leaked; slack {s['summary_slack']} posted it.",
        impact={"users_affected": 10, "api_token": s["impact_key"]},
    )
    quality = [
        QualityResult(
            source="logs",
            check="level_in_set",
            success=False,
            unexpected_count=1,
            details={"examples": [{"line": 3, "value": f"password: {s['quality_example']}"}]},
        ),
    ]
    quarantine = [
        Quarantined(
            file="logs.jsonl", line=9, field="level", reason=f"bad level, passwd={s['quarantine_reason']}"
        )
    ]
    gaps = [Gap(kind="silent_period", detail=f"collector down, PASSWORD={s['gap_detail']}", source="logs")]
    analysis = sample.analysis(
        incident=incident,
        timeline=timeline,
        root_cause=root_cause,
        data_quality=quality,
        quarantine=quarantine,
        gaps=gaps,
    )
    tickets = [
        {
            "key": "PM-1",
            "title": "t",
            "url": f"https://tracker.example.com/PM-1?api_key={s['ticket_url_token']}",
            "status": "open",
            "fingerprint": "fp-canary",
        }
    ]
    definitions = {"time_to_detect": f"computed with token: {s['definition']}"}
    return analysis, tickets, definitions


def test_planted_secrets_are_absent_from_both_reports() -> None:
    analysis, tickets, definitions = _planted()
    out = render_reports(analysis, tickets=tickets, definitions=definitions)
    for name, text in out.items():
        leaked = [key for key, secret in SECRETS.items() if secret in text]
        assert leaked == [], f"{name} leaks {leaked}"
        assert text.count(REDACTED) >= len(SECRETS) - 2  # a few texts hold two secrets in one redaction
    md, html = out["engineering.md"], out["engineering.html"]
    for text in (md, html):
        assert "Authorization: Bearer [REDACTED]" in text
        assert "deployer:[REDACTED]@ci.example.com" in text
        assert "BEGIN PRIVATE KEY" not in text
    assert "[PM-1](https://tracker.example.com/PM-1?api_key=[REDACTED])" in md
    assert "| API token | [REDACTED] |" in md  # the impact key is kept, its value hidden


def test_redaction_keeps_the_caller_analysis_untouched() -> None:
    analysis, tickets, definitions = _planted()
    build_view_model(analysis, tickets=tickets, definitions=definitions)
    assert SECRETS["summary_aws"] in analysis.incident.summary
    assert SECRETS["ticket_url_token"] in tickets[0]["url"]


def test_a_clean_analysis_has_nothing_redacted() -> None:
    out = render_reports(sample.analysis(), tickets=sample.tickets(), definitions=sample.DEFINITIONS)
    assert all(REDACTED not in text for text in out.values())
