"""Incident scenarios: what breaks, how it shows in metrics and logs, and how people talk about it.

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


_EXCEPTIONS = (
    "KeyError: 'currency_code'",
    "NullPointerException: shippingAddress is null",
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "ValueError: invalid literal for int() with base 10: ''",
    "IndexError: list index out of range",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "AttributeError: 'NoneType' object has no attribute 'locale'",
)
_HANDLERS = (
    "OrderSerializer.serialize",
    "CartController.update",
    "PriceCalculator.total",
    "SessionMiddleware.load",
    "ResponseBuilder.build",
    "LineItemMapper.to_dto",
)

_GENERIC_CHAT = (
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

SCENARIOS: dict[str, Scenario] = {}


def _register(scenario: Scenario) -> Scenario:
    SCENARIOS[scenario.name] = scenario
    return scenario


_register(
    Scenario(
        name="bad_deploy",
        culprit_kind="deploy",
        change_kind="deploy",
        culprit_status="rolled_back",
        root_kinds=("app",),
        onset_role="errors",
        root_effects={
            "errors": (0.06, 0.35),
            "latency": (0.8, 3.0),
            "cpu": (0.15, 0.5),
            "saturation": (0.1, 0.4),
        },
        caller_effects={"errors": (0.03, 0.2), "latency": (0.3, 1.5), "cpu": (0.0, 0.1)},
        rise_s=(20, 90),
        change_lead_min=(3.0, 20.0),
        root_logs=(
            (
                "error",
                "unhandled exception in {handler}: {exception} request_id=<hex:16> "
                "path=/v1/{root}/<int:1000:999999>",
            ),
            (
                "error",
                "HTTP 500 POST /v1/{root}/<int:1000:999999> took <ms:4:900>ms client=<ip> version={version}",
            ),
            (
                "warn",
                "worker <int:1:64> exited unexpectedly with code <word:1|2|137>, restarting (uptime "
                "<int:5:900>s)",
            ),
        ),
        echo_logs=(
            ("error", "call to {root} failed: status=500 duration=<ms:5:900>ms trace_id=<hex:32>"),
            ("warn", "retrying {root} request <hex:12> attempt=<int:1:3> backoff=<ms:50:400>ms"),
        ),
        titles=(
            "{Root} returning 5xx after release {version}",
            "Users unable to {capability}: {root} errors after deploy",
            "Elevated error rate on {root} and {edge} following the {root} {version} rollout",
        ),
        summary=(
            "Between {onset_hm} and {mitigated_hm} UTC about {pct_failed}% of requests to {root} failed and "
            "users were unable to {capability} through {edge}. The errors started {lead_min} minutes after "
            "{root} {version} was deployed and stopped when {root} was rolled back to {prev_version}."
        ),
        description=(
            "Deploy {change_id} of {root} {version} introduced {exception} in {handler}; the errors "
            "propagated to {callers}. Mitigated by rollback {mitigation_id} to {prev_version}."
        ),
        culprit_text="release {version}: {commit_subject}",
        mitigation_kind="rollback",
        mitigation_text="rollback {root} {version} -> {prev_version}",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged",
                3.0,
                5.0,
                "responder",
                "{decoy_service} deployed at {decoy_hm}, could that be it?",
            ),
            ChatLine(
                "acknowledged",
                4.0,
                7.0,
                "oncall",
                "{decoy_service} is not in the call path and its graphs are flat. {root} {version} "
                "went out at "
                "{change_hm} ({change_id}, {actor})",
            ),
            ChatLine(
                "acknowledged",
                5.0,
                9.0,
                "owner",
                "that's my release. the traces show {exception} in {handler}, which I touched",
            ),
            ChatLine("mitigated", -7.0, -5.0, "commander", "decision: roll back {root} to {prev_version}"),
            ChatLine("mitigated", -4.0, -2.0, "owner", "rollback {mitigation_id} started"),
            ChatLine(
                "mitigated", 0.5, 2.0, "oncall", "rollback finished, {root} error rate is back to baseline"
            ),
            ChatLine(
                "resolved",
                -2.0,
                -0.5,
                "commander",
                "15 minutes clean, resolving. {actor} owns the postmortem",
            ),
        ),
        actions=(
            ActionSpec(
                title="Gate {root} production deploys on automated canary analysis of 5xx rate",
                type="prevent",
                hypothesis="A 10% canary compared against baseline would have caught the 5xx increase in "
                "under 5 minutes, before full rollout",
                expected_impact="Bad {root} releases reach at most 10% of traffic for 5 minutes",
                success_metric="Share of {root} deploys rolled back after full rollout, per quarter "
                "(target 0)",
                rollback_plan="Disable the canary step in the {root} pipeline config",
                description="Add a canary stage with automatic abort on {error_metric} > 2x baseline.",
            ),
            ActionSpec(
                title="Add a contract test for {handler} with missing optional fields",
                type="prevent",
                hypothesis="The failing code path was only reached with payloads lacking optional fields",
                expected_impact="The class of error seen in {incident_id} fails CI instead of production",
                success_metric="Contract test runs in CI on every {root} pull request",
                rollback_plan="Revert the test commit",
            ),
            ActionSpec(
                title="Make {root} rollbacks one click from the incident channel",
                type="mitigate",
                hypothesis="Rollback took {rollback_min} minutes of manual steps; a chat command "
                "removes them",
                expected_impact="Time from rollback decision to rollback complete under 3 minutes",
                success_metric="Median rollback duration for {root} over 30 days",
                rollback_plan="Remove the chat command; the manual runbook stays valid",
            ),
        ),
        variants={
            "exception": _EXCEPTIONS,
            "handler": _HANDLERS,
            "commit_subject": (
                "Refactor {root} serializer for multi-currency support",
                "Move {root} request validation into middleware",
                "Switch {root} to the new HTTP client",
                "Simplify {root} response building",
                "Upgrade {root} web framework to 5.x",
            ),
        },
        tags=("deploy", "rollback", "regression"),
    )
)

_register(
    Scenario(
        name="config_change",
        culprit_kind="config",
        change_kind="config",
        root_kinds=("app",),
        onset_role="latency",
        root_effects={
            "errors": (0.04, 0.25),
            "latency": (2.0, 8.0),
            "saturation": (0.5, 1.5),
            "cpu": (0.0, 0.2),
        },
        caller_effects={"errors": (0.02, 0.15), "latency": (0.8, 3.0)},
        rise_s=(10, 60),
        change_lead_min=(1.0, 12.0),
        root_logs=(
            (
                "error",
                "request to {callee} timed out after <ms:140:260>ms ({config_key}={new_value}) "
                "request_id=<hex:16>",
            ),
            ("error", "HTTP 503 GET /v1/{root}/<int:1000:999999> upstream timeout after <ms:150:300>ms"),
            ("warn", "slow call budget exceeded: <ms:150:900>ms spent waiting on {callee} for <hex:12>"),
        ),
        echo_logs=(
            ("error", "{root} returned 503 for <hex:16> after <ms:150:900>ms"),
            ("warn", "degraded response served without {root} data for request <hex:16>"),
        ),
        titles=(
            "{Root} timeouts after configuration change to {config_key}",
            "Users unable to {capability}: {root} requests timing out",
            "Latency and 503s on {root} and {edge}",
        ),
        summary=(
            "From {onset_hm} to {mitigated_hm} UTC {root} timed out on a large share of requests "
            "(p99 latency several times normal, {pct_failed}% errors), so users could not {capability}. "
            "A configuration change had set {config_key} from {old_value} to {new_value}; reverting "
            "it restored service."
        ),
        description=(
            "Config change {change_id} set {config_key} from {old_value} to {new_value} on {root}; calls to "
            "{callee} timed out and errors propagated to {callers}. Reverted by {mitigation_id}."
        ),
        culprit_text="{config_key}: {old_value} -> {new_value}",
        mitigation_kind="config",
        mitigation_text="revert {config_key}: {new_value} -> {old_value}",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged",
                3.0,
                5.0,
                "responder",
                "no {root} deploy today. {decoy_service} shipped at {decoy_hm}",
            ),
            ChatLine(
                "acknowledged",
                4.0,
                7.0,
                "oncall",
                "{root} logs are full of timeouts with {config_key}={new_value}. who changed that?",
            ),
            ChatLine(
                "acknowledged",
                5.0,
                8.0,
                "owner",
                "me, at {change_hm} ({change_id}). It was meant for staging, sorry. reverting",
            ),
            ChatLine(
                "mitigated", -3.0, -1.0, "owner", "revert {mitigation_id} applied, pods reloading config"
            ),
            ChatLine("mitigated", 0.5, 2.0, "oncall", "latency back to normal on {root}"),
            ChatLine("resolved", -2.0, -0.5, "commander", "resolving. follow-ups in the postmortem"),
        ),
        actions=(
            ActionSpec(
                title="Validate {config_key} against a safe range before applying {root} config",
                type="prevent",
                hypothesis="A schema with min/max bounds would have rejected {new_value}",
                expected_impact="Out-of-range values for {config_key} cannot reach production",
                success_metric="Rejected config pushes logged by the validator; zero incidents from this key",
                rollback_plan="Turn the validator to warn-only mode",
            ),
            ActionSpec(
                title="Roll out {root} config changes progressively with automatic revert on p99 latency",
                type="mitigate",
                hypothesis="Staged rollout limits blast radius to one zone for 5 minutes",
                expected_impact="Config regressions affect under 20% of traffic",
                success_metric="Blast radius of config-related incidents (share of requests failed)",
                rollback_plan="Fall back to the direct apply path behind a flag",
            ),
            ActionSpec(
                title="Show config changes on the {root} dashboard as annotations",
                type="detect",
                hypothesis="Responders spent minutes finding the change; an annotation shows it next "
                "to the graph",
                expected_impact="Time to identify a config cause under 5 minutes",
                success_metric="Time from acknowledgement to cause identified in config incidents",
                rollback_plan="Remove the annotation query from the dashboard",
            ),
        ),
        variants={
            "config_spec": (
                "http.client.timeout_ms|2000|200",
                "db.pool.max_connections|50|5",
                "upstream.read_timeout_ms|1500|150",
                "http.client.max_connections_per_host|64|2",
                "grpc.max_concurrent_streams|100|4",
            ),
        },
        tags=("config", "timeouts"),
    )
)

_register(
    Scenario(
        name="feature_flag",
        culprit_kind="feature_flag",
        change_kind="feature_flag",
        root_kinds=("app",),
        onset_role="errors",
        root_effects={"errors": (0.05, 0.3), "latency": (0.3, 1.5), "cpu": (0.2, 0.8)},
        caller_effects={"errors": (0.02, 0.18), "latency": (0.2, 1.0)},
        rise_s=(15, 60),
        change_lead_min=(1.0, 10.0),
        root_logs=(
            ("error", "flag {flag} on: {exception} while handling <hex:16> (tenant=<int:100:9999>)"),
            ("error", "HTTP 500 POST /v1/{root}/<int:1000:999999> took <ms:4:600>ms flag={flag}"),
            ("warn", "fallback path skipped for {flag} cohort, user <int:100000:9999999>"),
        ),
        echo_logs=(
            ("error", "call to {root} failed: status=500 duration=<ms:5:700>ms trace_id=<hex:32>"),
            ("warn", "{root} response missing field <word:total|price|items|status> for <hex:12>"),
        ),
        titles=(
            "{Root} errors after enabling feature flag {flag}",
            "Users unable to {capability} after flag {flag} rollout",
            "5xx spike on {root} and {edge}",
        ),
        summary=(
            "Between {onset_hm} and {mitigated_hm} UTC {pct_failed}% of {root} requests failed and "
            "users could "
            "not {capability}. The flag {flag} had been enabled for all users {lead_min} minutes "
            "before; turning "
            "it off ended the errors."
        ),
        description=(
            "Feature flag change {change_id} enabled {flag} (0% -> 100%) on {root}; the new code path raised "
            "{exception}. Errors propagated to {callers}. Disabled by {mitigation_id}."
        ),
        culprit_text="{flag}: 0% -> 100%",
        mitigation_kind="feature_flag",
        mitigation_text="{flag}: 100% -> 0%",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged", 3.0, 5.0, "responder", "is it the {decoy_service} deploy at {decoy_hm}?"
            ),
            ChatLine(
                "acknowledged",
                4.0,
                6.0,
                "oncall",
                "errors all carry flag={flag}, flipped to 100% at {change_hm}",
            ),
            ChatLine("acknowledged", 5.0, 8.0, "owner", "that was us ({change_id}). turning it off now"),
            ChatLine("mitigated", -1.0, 0.0, "owner", "{flag} is off ({mitigation_id})"),
            ChatLine("mitigated", 1.0, 3.0, "oncall", "errors gone on {root} and {edge}"),
            ChatLine("resolved", -2.0, -0.5, "commander", "resolving; flag stays off until the fix ships"),
        ),
        actions=(
            ActionSpec(
                title="Require a staged percentage rollout for {root} flags with an error-rate guard",
                type="prevent",
                hypothesis="1% -> 10% -> 50% -> 100% steps with a guard would have stopped at 1%",
                expected_impact="Flag regressions affect at most 1% of users",
                success_metric="Flags flipped straight to 100% per month (target 0)",
                rollback_plan="Allow direct 100% flips again via the flag service admin setting",
            ),
            ActionSpec(
                title="Cover the {flag} code path in {root} integration tests",
                type="prevent",
                hypothesis="The flag-on path had no test with production-like data",
                expected_impact="The {exception} class of error fails CI",
                success_metric="Integration suite runs with every flag on and off",
                rollback_plan="Revert the test change",
            ),
        ),
        variants={
            "flag": (
                "{root}-v2-flow",
                "async-{root}-writes",
                "{root}-grpc-transport",
                "new-{root}-cache-layer",
                "{root}-batch-writes",
            ),
            "exception": (
                "ZeroDivisionError: division by zero",
                "IllegalStateException: reservation already committed",
                "json: cannot unmarshal string into Go struct field .amount of type int64",
                "ValidationError: 'total' must be positive",
            ),
        },
        tags=("feature-flag",),
    )
)

_register(
    Scenario(
        name="dependency_outage",
        culprit_kind="dependency",
        change_kind=None,
        root_kinds=("provider", "db", "cache"),
        onset_role="latency",
        root_effects={
            "errors": (0.15, 0.6),
            "latency": (4.0, 20.0),
            "cpu": (0.0, 0.3),
            "saturation": (0.5, 1.5),
        },
        caller_effects={"errors": (0.05, 0.3), "latency": (1.0, 5.0), "saturation": (0.4, 1.2)},
        rise_s=(30, 180),
        root_logs=(
            (
                "error",
                "{root} request failed: <word:503 Service Unavailable|connection reset by peer|i/o timeout> "
                "after <ms:1000:30000>ms key=<hex:24>",
            ),
            ("error", "TLS handshake timeout connecting to {root}:443 from <ip>"),
            ("warn", "circuit breaker for {root} is OPEN (failures=<int:20:500> in 60s)"),
        ),
        echo_logs=(
            ("error", "upstream <word:502|503|504> from {next} for <hex:16> after <ms:1000:30000>ms"),
            ("warn", "request <hex:16> exceeded deadline of 10s waiting for {next}"),
        ),
        titles=(
            "{Root} degraded: users unable to {capability}",
            "Users unable to {capability}: upstream dependency {root} unavailable",
            "Timeouts from {root} cascading to {caller} and {edge}",
        ),
        summary=(
            "From {onset_hm} to {mitigated_hm} UTC the dependency {root} answered slowly or not at all; "
            "{caller} requests piled up and about {pct_failed}% of requests failed, so users could not "
            "{capability}. No change on our side was involved; failing over restored service."
        ),
        description=(
            "Upstream dependency {root} degraded (latency and errors) with no change on our side; calls from "
            "{callers} timed out. Mitigated by failover {mitigation_id}."
        ),
        mitigation_kind="config",
        mitigation_text="fail over {caller} from {root} to {fallback}",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged",
                3.0,
                5.0,
                "responder",
                "{decoy_service} deployed at {decoy_hm}, roll it back?",
            ),
            ChatLine(
                "acknowledged",
                4.0,
                7.0,
                "oncall",
                "no, {decoy_service} is not on this path. {caller} calls to {root} time out; their "
                "status page "
                "says degraded performance since {onset_hm}",
            ),
            ChatLine("mitigated", -8.0, -5.0, "commander", "decision: fail over {caller} to {fallback}"),
            ChatLine("mitigated", -1.0, 0.0, "owner", "failover applied ({mitigation_id})"),
            ChatLine("mitigated", 1.0, 3.0, "oncall", "{caller} error rate dropping"),
            ChatLine("resolved", -3.0, -1.0, "owner", "{root} reports the incident resolved on their side"),
            ChatLine("resolved", -1.0, 0.0, "commander", "resolving, we stay on {fallback} until tomorrow"),
        ),
        actions=(
            ActionSpec(
                title="Fail over {caller} from {root} to {fallback} automatically on sustained errors",
                type="mitigate",
                hypothesis="Manual failover took {rollback_min} minutes; an automatic breaker "
                "switches in 1 minute",
                expected_impact="Impact of a {root} outage limited to about 1 minute",
                success_metric="Minutes of {caller} errors during the next {root} degradation",
                rollback_plan="Set the failover policy back to manual",
            ),
            ActionSpec(
                title="Set a 2 s timeout and bounded retries on {caller} calls to {root}",
                type="prevent",
                hypothesis="30 s timeouts exhausted {caller} workers and spread the outage",
                expected_impact="{caller} stays available for requests that do not need {root}",
                success_metric="{caller} saturation stays below 80% during dependency errors",
                rollback_plan="Restore the previous client settings",
            ),
            ActionSpec(
                title="Alert on {root} latency from synthetic checks, not only on {caller} errors",
                type="detect",
                hypothesis="A synthetic check sees provider degradation before customers do",
                expected_impact="Detection within 3 minutes of dependency degradation",
                success_metric="Time to detect for dependency incidents",
                rollback_plan="Delete the synthetic check",
            ),
        ),
        tags=("dependency", "third-party", "no-change"),
    )
)

_register(
    Scenario(
        name="saturation",
        culprit_kind="saturation",
        change_kind=None,
        root_kinds=("app", "db"),
        onset_role="saturation",
        root_effects={
            "errors": (0.04, 0.25),
            "latency": (1.5, 6.0),
            "cpu": (0.6, 1.2),
            "saturation": (1.0, 2.0),
        },
        caller_effects={"errors": (0.02, 0.15), "latency": (0.5, 2.5)},
        rise_s=(120, 600),
        precursor_h=(1.0, 3.0),
        root_logs=(
            (
                "error",
                "connection pool exhausted: timed out after <ms:1000:5000>ms waiting for a connection "
                "(active=<int:48:50>, max=50)",
            ),
            ("warn", "request queue depth <int:500:5000> above high watermark 500"),
            ("error", "rejected request <hex:16>: too many concurrent requests (in_flight=<int:200:256>)"),
        ),
        echo_logs=(
            ("error", "call to {root} failed: status=503 duration=<ms:1000:10000>ms trace_id=<hex:32>"),
            ("warn", "slow response from {root}: <ms:1000:10000>ms for <hex:12>"),
        ),
        titles=(
            "{Root} saturated under rising traffic; users unable to {capability}",
            "Capacity exhaustion on {root} caused errors on {edge}",
            "Slow and failing requests on {root} during traffic peak",
        ),
        summary=(
            "Traffic grew by about {growth_pct}% from {precursor_hm} UTC. {Root} ran out of capacity at "
            "{onset_hm} and until {mitigated_hm} about {pct_failed}% of requests failed, so users could not "
            "{capability}. Scaling {root} out restored service."
        ),
        description=(
            "Traffic growth from {precursor_hm} drove {root} {sat_metric} to its limit; no change caused it "
            "(the {decoy_service} deploy {decoy_id} nearby was innocent). Errors propagated to {callers}. "
            "Mitigated by scaling {mitigation_id}."
        ),
        mitigation_kind="infra",
        mitigation_text="scale {root} from {replicas} to {replicas_after} replicas",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged",
                3.0,
                5.0,
                "responder",
                "{decoy_service} {decoy_version} went out at {decoy_hm}, right before this. rollback?",
            ),
            ChatLine(
                "acknowledged",
                4.0,
                7.0,
                "oncall",
                "{decoy_service} looks healthy. {root} {sat_metric} has been climbing since {precursor_hm}, "
                "traffic is up {growth_pct}%",
            ),
            ChatLine("mitigated", -8.0, -5.0, "commander", "decision: scale {root} out, no rollback"),
            ChatLine(
                "mitigated",
                -1.0,
                0.0,
                "owner",
                "scaled {root} to {replicas_after} replicas ({mitigation_id})",
            ),
            ChatLine("mitigated", 1.0, 3.0, "oncall", "{sat_metric} on {root} dropping, errors recovering"),
            ChatLine("resolved", -1.0, 0.0, "commander", "resolving. capacity review in the postmortem"),
        ),
        actions=(
            ActionSpec(
                title="Autoscale {root} on {sat_metric} with headroom for a 2x peak",
                type="prevent",
                hypothesis="{root} ran at a fixed {replicas} replicas; autoscaling adds capacity "
                "before the limit",
                expected_impact="{sat_metric} stays under 80% at twice today's peak traffic",
                success_metric="Maximum daily {sat_metric} on {root} over 30 days",
                rollback_plan="Pin the replica count back to {replicas_after}",
            ),
            ActionSpec(
                title="Alert when {root} {sat_metric} exceeds 80% for 10 minutes",
                type="detect",
                hypothesis="{sat_metric} rose for over an hour before errors began",
                expected_impact="Page at least 30 minutes before saturation",
                success_metric="Lead time between the saturation alert and first errors in load tests",
                rollback_plan="Silence the alert rule",
            ),
            ActionSpec(
                title="Load test {root} at 2x peak before each seasonal campaign",
                type="process",
                hypothesis="Capacity limits were unknown until production hit them",
                expected_impact="Known safe throughput for {root}",
                success_metric="Load test report attached to each campaign launch checklist",
                rollback_plan="None needed (process step)",
            ),
        ),
        tags=("capacity", "saturation", "no-change"),
    )
)

_register(
    Scenario(
        name="bad_migration",
        culprit_kind="migration",
        change_kind="migration",
        culprit_status="rolled_back",
        root_kinds=("db",),
        onset_role="latency",
        root_effects={
            "latency": (5.0, 25.0),
            "errors": (0.05, 0.3),
            "saturation": (0.8, 1.8),
            "cpu": (0.3, 1.0),
        },
        caller_effects={"errors": (0.04, 0.25), "latency": (1.0, 6.0), "saturation": (0.3, 1.0)},
        rise_s=(10, 60),
        change_lead_min=(2.0, 15.0),
        root_logs=(
            ("error", 'canceling statement due to lock timeout: relation "{table}" pid=<int:1000:60000>'),
            (
                "warn",
                "process <int:1000:60000> still waiting for AccessExclusiveLock on relation {table} "
                "after <ms:1000:9000> ms",
            ),
            ("error", "duration: <ms:5000:60000> ms statement: SELECT * FROM {table} WHERE id = $1"),
        ),
        echo_logs=(
            (
                "error",
                "query on {root} timed out after <ms:3000:10000>ms: canceling statement due to "
                "statement timeout",
            ),
            ("error", "HTTP 504 GET /v1/{self}/<int:1000:999999> upstream timeout trace_id=<hex:32>"),
        ),
        titles=(
            "{Root} locked by schema migration; users unable to {capability}",
            "Database lock contention on {root} after migration {migration}",
            "Timeouts on {caller} caused by a blocking migration on {root}",
        ),
        summary=(
            "At {onset_hm} UTC migration {migration} took an exclusive lock on {table} in {root}. "
            "Queries queued "
            "behind it and about {pct_failed}% of requests failed until {mitigated_hm}, when the "
            "migration was "
            "cancelled and rolled back."
        ),
        description=(
            "Migration {change_id} ({migration}) on {root} locked {table}; queries from {callers} timed out. "
            "Cancelled and rolled back by {mitigation_id}."
        ),
        culprit_text="{migration}: {statement}",
        mitigation_kind="rollback",
        mitigation_text="cancel and roll back {migration}",
        chat=(
            *_GENERIC_CHAT,
            ChatLine(
                "acknowledged", 3.0, 5.0, "responder", "{decoy_service} deployed at {decoy_hm}, related?"
            ),
            ChatLine(
                "acknowledged",
                4.0,
                7.0,
                "oncall",
                "{root} shows hundreds of sessions waiting on a lock on {table}. a migration started "
                "at {change_hm}",
            ),
            ChatLine(
                "acknowledged", 5.0, 8.0, "owner", "that's {migration}, mine. it should have been online-safe"
            ),
            ChatLine("mitigated", -4.0, -2.0, "commander", "decision: cancel the migration"),
            ChatLine("mitigated", -1.0, 0.0, "owner", "cancelled, rolling back ({mitigation_id})"),
            ChatLine("mitigated", 1.0, 3.0, "oncall", "lock waits cleared, latency recovering"),
            ChatLine("resolved", -1.0, 0.0, "commander", "resolving"),
        ),
        actions=(
            ActionSpec(
                title="Lint migrations for blocking DDL on large tables in CI",
                type="prevent",
                hypothesis="A linter flags ALTER/CREATE INDEX without CONCURRENTLY or lock_timeout",
                expected_impact="Blocking migrations are caught before merge",
                success_metric="Blocking DDL statements merged per quarter (target 0)",
                rollback_plan="Make the lint rule advisory",
            ),
            ActionSpec(
                title="Set lock_timeout=3s for the migration role on {root}",
                type="mitigate",
                hypothesis="With a lock timeout the migration fails fast instead of blocking traffic",
                expected_impact="A blocking migration causes at most 3 s of lock waits",
                success_metric="Maximum lock wait on {root} during migrations",
                rollback_plan="ALTER ROLE migrator RESET lock_timeout",
            ),
        ),
        variants={
            "migration_spec": (
                "add_{table}_status|ALTER TABLE {table} ADD COLUMN status text NOT NULL DEFAULT 'pending'",
                "index_{table}_created_at|CREATE INDEX idx_{table}_created_at ON {table} (created_at)",
                "backfill_{table}_region|UPDATE {table} SET region = lower(region)",
                "widen_{table}_amount|ALTER TABLE {table} ALTER COLUMN amount TYPE numeric(12,2)",
                "{table}_user_fk|ALTER TABLE {table} ADD CONSTRAINT {table}_user_fk FOREIGN KEY (user_id) "
                "REFERENCES users",
            ),
        },
        tags=("database", "migration", "locks"),
    )
)
