"""Runtime configuration faults: a bad config value and a feature flag flipped to 100%."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import ActionSpec, Scenario, effects, failed_call_log

CONFIG_CHANGE = Scenario(
    name="config_change",
    culprit_kind="config",
    change_kind="config",
    root_kinds=("app",),
    onset_role="latency",
    root_effects=effects(errors=(0.04, 0.25), latency=(2.0, 8.0), saturation=(0.5, 1.5), cpu=(0.0, 0.2)),
    caller_effects=effects(errors=(0.02, 0.15), latency=(0.8, 3.0)),
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
        *investigation(
            "no {root} deploy today. {decoy_service} shipped at {decoy_hm}",
            "{root} logs are full of timeouts with {config_key}={new_value}. who changed that?",
            "me, at {change_hm} ({change_id}). It was meant for staging, sorry. reverting",
        ),
        fix_applied("revert {mitigation_id} applied, pods reloading config", -3.0, -1.0),
        recovery("latency back to normal on {root}", 0.5, 2.0),
        resolution("resolving. follow-ups in the postmortem", -2.0, -0.5),
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

FEATURE_FLAG = Scenario(
    name="feature_flag",
    culprit_kind="feature_flag",
    change_kind="feature_flag",
    root_kinds=("app",),
    onset_role="errors",
    root_effects=effects(errors=(0.05, 0.3), latency=(0.3, 1.5), cpu=(0.2, 0.8)),
    caller_effects=effects(errors=(0.02, 0.18), latency=(0.2, 1.0)),
    rise_s=(15, 60),
    change_lead_min=(1.0, 10.0),
    root_logs=(
        ("error", "flag {flag} on: {exception} while handling <hex:16> (tenant=<int:100:9999>)"),
        ("error", "HTTP 500 POST /v1/{root}/<int:1000:999999> took <ms:4:600>ms flag={flag}"),
        ("warn", "fallback path skipped for {flag} cohort, user <int:100000:9999999>"),
    ),
    echo_logs=(
        failed_call_log(500, "5:700"),
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
        *investigation(
            "is it the {decoy_service} deploy at {decoy_hm}?",
            "errors all carry flag={flag}, flipped to 100% at {change_hm}",
            "that was us ({change_id}). turning it off now",
            finding_hi=6.0,
        ),
        fix_applied("{flag} is off ({mitigation_id})"),
        recovery("errors gone on {root} and {edge}"),
        resolution("resolving; flag stays off until the fix ships", -2.0, -0.5),
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
