"""An external dependency degrades with no change on our side."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import decision, fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import ActionSpec, Scenario, effects

DEPENDENCY_OUTAGE = Scenario(
    name="dependency_outage",
    culprit_kind="dependency",
    change_kind=None,
    root_kinds=("provider", "db", "cache"),
    onset_role="latency",
    root_effects=effects(errors=(0.15, 0.6), latency=(4.0, 20.0), cpu=(0.0, 0.3), saturation=(0.5, 1.5)),
    caller_effects=effects(errors=(0.05, 0.3), latency=(1.0, 5.0), saturation=(0.4, 1.2)),
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
        *investigation(
            "{decoy_service} deployed at {decoy_hm}, roll it back?",
            "no, {decoy_service} is not on this path. {caller} calls to {root} time out; their "
            "status page "
            "says degraded performance since {onset_hm}",
        ),
        decision("decision: fail over {caller} to {fallback}", -8.0, -5.0),
        fix_applied("failover applied ({mitigation_id})"),
        recovery("{caller} error rate dropping"),
        resolution("{root} reports the incident resolved on their side", -3.0, -1.0, role="owner"),
        resolution("resolving, we stay on {fallback} until tomorrow"),
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
