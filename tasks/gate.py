"""Remediation quality gate: is each proposed action specific, testable and assignable? (DESIGN 1, step 6)

Rules, version `GATE_VERSION` (every failed rule adds one reason naming the field):
1. required fields: owner, due, type, hypothesis, expected_impact, success_metric, rollback_plan;
   a field the bundle reader could not parse (kept in `action.invalid_fields`) is reported as unparseable;
2. `type` is one of `ACTION_TYPES`;
3. `due` is after the day of `now` (UTC);
4. title and description are not built on a vague verb ("investigate", "improve", "be more careful" ...)
   unless the action names a measurable target: a comparison with a number ("p99 > 800 ms"), a number
   with a unit or percent ("to 95%", "within 5 min"), any other number that is not part of an identifier,
   version or date ("with 2 drills"), or an SLO/SLA/error budget;
5. `success_metric` is measurable: it holds a number, a comparison, a threshold, or names a quantity
   (rate, share, count, duration, time to/from, median, percentile, maximum ...) or a universal
   condition ("on every pull request");
6. no duplicate: an action whose normalised title, or content-word set (Jaccard >= 0.8), matches an
   earlier action of the list is flagged as a duplicate of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from postmortem.model import ACTION_TYPES, Action, GateVerdict

GATE_VERSION = "1"

REQUIRED_FIELDS: dict[str, str] = {
    "owner": "who is accountable for doing it",
    "due": "when it will be done",
    "type": f"one of {', '.join(ACTION_TYPES)}",
    "hypothesis": "why it would prevent or shorten a recurrence",
    "expected_impact": "what changes once it is done",
    "success_metric": "how we will know it worked",
    "rollback_plan": "how to undo it if it backfires",
}

# a vague verb is one that leads the sentence (after filler such as "we should" or "team to")
VAGUE_LEADS = (
    "investigate",
    "look into",
    "look at",
    "improve",
    "consider",
    "review",
    "ensure",
    "try to",
    "explore",
    "revisit",
    "think about",
)
# vague wherever it appears
VAGUE_PHRASES = ("be careful", "be more careful", "more careful", "monitor better", "try to", "as needed")

_FILLER = re.compile(
    r"^(?:(?:we|i|the team|team|someone|they|you)\s+)?"
    r"(?:(?:should|must|need to|needs to|will|shall|could|to|let's|lets|please|also|all)\s+)*",
    re.IGNORECASE,
)
_VAGUE_LEAD = re.compile(r"(" + "|".join(re.escape(v) for v in VAGUE_LEADS) + r")\b", re.IGNORECASE)
_VAGUE_ANY = re.compile(r"\b(" + "|".join(re.escape(v) for v in VAGUE_PHRASES) + r")\b", re.IGNORECASE)

_NUMBER = r"\d+(?:[.,]\d+)?"
_UNIT = (
    r"(?:%|percent\b|ms\b|msec\b|s\b|secs?\b|seconds?\b|mins?\b|minutes?\b|h\b|hrs?\b|hours?\b|days?\b"
    r"|weeks?\b|x\b|rps\b|qps\b|req/s\b|[kmg]b\b|nines\b)"
)
# a measurable target: what turns a vague verb into a specific action. A number counts unless it is part
# of an identifier, a version or a date ("v3.1.0", "INC-42", "5xx", "2027-01-15").
_TARGET = re.compile(
    rf"(?:[<>≤≥]=?|==|!=)\s*{_NUMBER}"
    rf"|{_NUMBER}\s*{_UNIT}"
    rf"|(?<![\w.\-/:]){_NUMBER}(?![\w.\-/:])"
    r"|\b(?:slo|sla|error budget)s?\b",
    re.IGNORECASE,
)
# a measurable success metric: a number, a comparison, or a named quantity
_MEASURABLE = re.compile(
    r"\d|[<>≤≥]"
    r"|\b(?:zero|every|each|no more than|at most|at least|below|under|above|exceeds?)\b"
    r"|\b(?:rate|ratio|share|percent(?:age)?|proportion|count|number of|amount of|total|frequency|duration"
    r"|latency|(?:milli)?seconds|minutes|hours|days"
    r"|time (?:to|from|between)|mtt[a-z]|median|mean|average|percentile|p\d{2,3}|max(?:imum)?|min(?:imum)?"
    r"|slo|sla|sli|error budget|per (?:day|week|month|quarter|year|deploy|release|incident))\b",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    {"a", "an", "and", "the", "of", "on", "in", "for", "to", "with", "from", "by", "at", "as", "is", "are"}
    | {"be", "when", "if", "or", "not", "only", "into", "than", "then", "this", "that"}
)
_SIMILAR = 0.8


def gate_actions(actions: Sequence[Action], incident_id: str, now: datetime) -> list[GateVerdict]:
    """One verdict per action, in order: passed only when no rule gives a reason."""
    today = now.astimezone(UTC).date()
    seen: list[tuple[Action, str, frozenset[str]]] = []
    verdicts = []
    for action in actions:
        reasons = field_reasons(action, today) + wording_reasons(action)
        norm = normalise_title(action.title)
        tokens = title_tokens(norm)
        original = next((a for a, n, t in seen if n == norm or similar(t, tokens)), None)
        if original is not None:
            reasons.append(f"duplicate of '{original.title}'")
        else:
            seen.append((action, norm, tokens))
        verdicts.append(
            GateVerdict(
                title=action.title,
                fingerprint=action.fingerprint(incident_id),
                passed=not reasons,
                reasons=reasons,
                owner=action.owner,
                due=action.due,
                type=action.type,
            )
        )
    return verdicts


def field_reasons(action: Action, today: date) -> list[str]:
    """Missing, unparseable or invalid fields, and a due date that is not in the future."""
    invalid: dict[str, Any] = getattr(action, "invalid_fields", {}) or {}
    reasons = []
    for name, why in REQUIRED_FIELDS.items():
        value = getattr(action, name)
        if name in invalid:
            reasons.append(f"field '{name}' could not be parsed: {invalid[name]!r} ({why})")
        elif value is None or (isinstance(value, str) and not value.strip()):
            reasons.append(f"field '{name}' is missing: say {why}")
    reasons += [
        f"field '{name}' could not be parsed: {raw!r}"
        for name, raw in invalid.items()
        if name not in REQUIRED_FIELDS
    ]
    if action.type is not None and action.type.strip() and action.type not in ACTION_TYPES:
        reasons.append(f"field 'type' is {action.type!r}, not one of {', '.join(ACTION_TYPES)}")
    if action.due is not None and action.due <= today:
        reasons.append(
            f"field 'due' is {action.due.isoformat()}, not in the future (today is {today.isoformat()})"
        )
    metric = (action.success_metric or "").strip()
    if metric and not _MEASURABLE.search(metric):
        reasons.append(
            f"field 'success_metric' is not measurable: {metric!r} has no number, threshold or comparison "
            "and names no quantity (rate, count, duration, percentile ...)"
        )
    return reasons


def wording_reasons(action: Action) -> list[str]:
    """Vague title or description without a measurable target anywhere in the action's text."""
    text = " ".join(t for t in (action.title, action.description or "") if t)
    if _TARGET.search(text):
        return []
    reasons = []
    for name in ("title", "description"):
        value = (getattr(action, name) or "").strip()
        word = vague_word(value)
        if word:
            reasons.append(
                f"field '{name}' is vague: it is built on {word!r} and names no measurable target "
                "(a number with a unit, a threshold, a comparison such as 'p99 > 800 ms', or an SLO)"
            )
    return reasons


def vague_word(text: str) -> str | None:
    """The vague verb or phrase a sentence is built on (leading, after filler words), if any."""
    body = _FILLER.sub("", text.strip(), count=1)
    lead = _VAGUE_LEAD.match(body)
    if lead:
        return lead.group(1).lower()
    anywhere = _VAGUE_ANY.search(text)
    return anywhere.group(1).lower() if anywhere else None


def normalise_title(title: str) -> str:
    """Lowercase words and numbers only, split apart ("800ms" -> "800 ms"), single-spaced."""
    return " ".join(re.findall(r"[a-z]+|[0-9]+", title.lower()))


def title_tokens(norm: str) -> frozenset[str]:
    """Content words of a normalised title, with a plural `s` stripped."""
    words = (w for w in norm.split() if w not in _STOPWORDS)
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two content-word sets overlap enough (Jaccard) to be the same action."""
    if len(a) < 2 or len(b) < 2:
        return False
    return len(a & b) / len(a | b) >= _SIMILAR
