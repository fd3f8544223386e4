"""The scenario data model and the text (exceptions, handlers, caller log lines) scenarios share.

Text fields are `str.format` templates over the story's context (`{root}`, `{version}`, ...); log templates
also hold random placeholders in angle brackets (`<hex:16>`, `<ms:5:900>`, `<ip>`, `<word:a|b>`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatLine:
    """One scripted chat message, placed `lo`..`hi` minutes after a story anchor."""

    anchor: str
    lo: float
    hi: float
    role: str
    text: str


@dataclass(frozen=True)
class ActionSpec:
    """A well-formed remediation action (owner and due date are drawn by the story)."""

    title: str
    type: str
    hypothesis: str
    expected_impact: str
    success_metric: str
    rollback_plan: str
    description: str = ""


@dataclass(frozen=True)
class Scenario:
    """How one kind of incident unfolds."""

    name: str
    culprit_kind: str
    change_kind: str | None
    root_kinds: tuple[str, ...]
    onset_role: str
    root_effects: dict[str, tuple[float, float]]
    caller_effects: dict[str, tuple[float, float]]
    rise_s: tuple[float, float]
    root_logs: tuple[tuple[str, str], ...]
    echo_logs: tuple[tuple[str, str], ...]
    titles: tuple[str, ...]
    summary: str
    description: str
    chat: tuple[ChatLine, ...]
    actions: tuple[ActionSpec, ...]
    mitigation_kind: str
    mitigation_text: str
    culprit_text: str = ""
    change_lead_min: tuple[float, float] = (4.0, 25.0)
    culprit_status: str = "succeeded"
    precursor_h: tuple[float, float] | None = None
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


EXCEPTIONS = (
    "KeyError: 'currency_code'",
    "NullPointerException: shippingAddress is null",
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "ValueError: invalid literal for int() with base 10: ''",
    "IndexError: list index out of range",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "AttributeError: 'NoneType' object has no attribute 'locale'",
)
HANDLERS = (
    "OrderSerializer.serialize",
    "CartController.update",
    "PriceCalculator.total",
    "SessionMiddleware.load",
    "ResponseBuilder.build",
    "LineItemMapper.to_dto",
)

Range = tuple[float, float]


def effects(**ranges: Range) -> dict[str, Range]:
    """Effect ranges by signal (`errors=(lo, hi)`, ...), in the order given."""
    return dict(ranges)


def failed_call_log(status: int, duration_ms: str) -> tuple[str, str]:
    """A caller's error line for a failed call to the root service (`duration_ms` as `lo:hi`)."""
    return (
        "error",
        f"call to {{root}} failed: status={status} duration=<ms:{duration_ms}>ms trace_id=<hex:32>",
    )


RETRY_LOG = ("warn", "retrying {root} request <hex:12> attempt=<int:1:3> backoff=<ms:50:400>ms")
