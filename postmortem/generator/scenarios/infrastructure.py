"""An infrastructure change (limits, node pools, network rules) that starves its service."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import RETRY_LOG, ActionSpec, Scenario, effects, failed_call_log

BAD_INFRA = Scenario(
    name="bad_infra",
    culprit_kind="infra",
    change_kind="infra",
    root_kinds=("app",),
    onset_role="errors",
    root_effects=effects(errors=(0.05, 0.3), latency=(0.5, 2.5), cpu=(0.2, 0.7), saturation=(0.3, 0.9)),
    caller_effects=effects(errors=(0.02, 0.18), latency=(0.3, 1.5)),
    rise_s=(30, 150),
    change_lead_min=(2.0, 30.0),
    root_logs=(
        (
            "warn",
            "container {root} restarted (reason=<word:OOMKilled|Error|Unhealthy>, restarts=<int:1:40>) "
            "pod=<hex:10>",
        ),
        (
            "error",
            "upstream connect error or disconnect/reset before headers. reset reason: "
            "<word:connection failure|overflow|local reset> request_id=<hex:16>",
        ),
        ("error", "HTTP 503 GET /v1/{root}/<int:1000:999999> no healthy upstream after <ms:5:900>ms"),
    ),
    echo_logs=(failed_call_log(503, "5:900"), RETRY_LOG),
    titles=(
        "{Root} pods restarting after infrastructure change",
        "Users unable to {capability}: {root} has no healthy upstreams",
        "503s on {root} and {edge} after change to {root} infrastructure",
    ),
    summary=(
        "From {onset_hm} to {mitigated_hm} UTC {root} pods kept restarting and about {pct_failed}% of "
        "requests failed, so users could not {capability}. An infrastructure change applied {lead_min} "
        "minutes before ({infra_change}) left {root} without enough resources; reverting it restored "
        "service."
    ),
    description=(
        "Infrastructure change {change_id} ({infra_change}) starved {root}; its pods restarted and errors "
        "propagated to {callers}. Reverted by {mitigation_id}."
    ),
    culprit_text="{infra_change}",
    mitigation_kind="infra",
    mitigation_text="revert: {infra_change}",
    chat=(
        *investigation(
            "{decoy_service} deployed at {decoy_hm}, related?",
            "{root} pods are restarting in a loop. no {root} deploy, but terraform applied {change_id} "
            "at {change_hm}",
            "that was mine: {infra_change}. reverting",
        ),
        fix_applied("revert applied ({mitigation_id}), pods settling", -2.0, 0.0),
        recovery("{root} error rate back to baseline"),
        resolution(),
    ),
    actions=(
        ActionSpec(
            title="Run a plan review with resource diffs for {root} infrastructure changes",
            type="prevent",
            hypothesis="A reviewer seeing the resource diff would have questioned the change",
            expected_impact="Changes that shrink {root} capacity need an explicit approval",
            success_metric="Share of {root} infrastructure changes with a recorded review (target 100%)",
            rollback_plan="Make the review step optional in the pipeline",
        ),
        ActionSpec(
            title="Apply {root} infrastructure changes to one zone first with an error-rate guard",
            type="mitigate",
            hypothesis="A one-zone rollout limits the blast radius to a third of the traffic",
            expected_impact="Infrastructure regressions affect under 35% of {root} traffic",
            success_metric="Blast radius of infrastructure-caused incidents (share of requests failed)",
            rollback_plan="Apply to all zones at once as before",
        ),
        ActionSpec(
            title="Alert on {root} container restarts above 3 in 5 minutes",
            type="detect",
            hypothesis="Restarts began minutes before the error rate crossed the paging threshold",
            expected_impact="Detection of crash loops within 5 minutes",
            success_metric="Time to detect for crash-loop incidents",
            rollback_plan="Delete the alert rule",
        ),
    ),
    variants={
        "infra_change": (
            "lower {root} memory limit from 2Gi to 512Mi",
            "move {root} to node pool spot-arm64",
            "remove egress rule for {root} to the private subnet",
            "set {root} autoscaler maximum from 12 to 2 replicas",
            "switch {root} ingress to the new load balancer",
        ),
    },
    tags=("infrastructure", "terraform"),
)
