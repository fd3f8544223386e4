"""The scripted incident chat: the opening every scenario shares and one helper per kind of message.

Offsets are minutes after the message's story anchor; the texts are templates over the story's context.
"""

from __future__ import annotations

from postmortem.generator.scenarios.spec import ChatLine

GENERIC_CHAT = (
    ChatLine("first_alert", 0.3, 1.5, "oncall", "paged for {alert_name} on {first_alert_service}, looking"),
    ChatLine(
        "acknowledged", 0.0, 1.0, "oncall", "ack. {root} is at {pct_failed}% errors, {edge} is affected too"
    ),
    ChatLine(
        "acknowledged",
        0.5,
        2.0,
        "commander",
        "I'm IC. Opened {incident_id} as {severity}. What changed recently?",
    ),
    ChatLine(
        "acknowledged", 1.0, 3.0, "support", "support is getting tickets: customers cannot {capability}"
    ),
    ChatLine(
        "acknowledged",
        2.0,
        4.0,
        "commander",
        "status page updated: investigating reports that customers cannot {capability}",
    ),
)


def investigation(
    decoy: str,
    finding: str,
    confession: str | None = None,
    *,
    finding_hi: float = 7.0,
    confession_hi: float = 8.0,
) -> tuple[ChatLine, ...]:
    """Generic opening, then a responder suspecting the decoy, on-call finding the cause, its owner."""
    lines = (
        *GENERIC_CHAT,
        ChatLine("acknowledged", 3.0, 5.0, "responder", decoy),
        ChatLine("acknowledged", 4.0, finding_hi, "oncall", finding),
    )
    if confession is None:
        return lines
    return (*lines, ChatLine("acknowledged", 5.0, confession_hi, "owner", confession))


def decision(text: str, lo: float, hi: float) -> ChatLine:
    """The commander's mitigation decision, `lo`..`hi` minutes around mitigation."""
    return ChatLine("mitigated", lo, hi, "commander", text)


def fix_applied(text: str, lo: float = -1.0, hi: float = 0.0) -> ChatLine:
    """The owner reporting the mitigation applied."""
    return ChatLine("mitigated", lo, hi, "owner", text)


def recovery(text: str, lo: float = 1.0, hi: float = 3.0) -> ChatLine:
    """On-call confirming the signals recover after mitigation."""
    return ChatLine("mitigated", lo, hi, "oncall", text)


def resolution(
    text: str = "resolving", lo: float = -1.0, hi: float = 0.0, role: str = "commander"
) -> ChatLine:
    """A message just before the incident is resolved (by default the commander resolving it)."""
    return ChatLine("resolved", lo, hi, role, text)
