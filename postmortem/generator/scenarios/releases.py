"""A release that breaks its own service and is rolled back."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import decision, fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import (
    EXCEPTIONS,
    HANDLERS,
    RETRY_LOG,
    ActionSpec,
    Scenario,
    effects,
    failed_call_log,
)

BAD_DEPLOY = Scenario(
    name="bad_deploy",
    culprit_kind="deploy",
    change_kind="deploy",
    culprit_status="rolled_back",
    root_kinds=("app",),
    onset_role="errors",
    root_effects=effects(errors=(0.06, 0.35), latency=(0.8, 3.0), cpu=(0.15, 0.5), saturation=(0.1, 0.4)),
    caller_effects=effects(errors=(0.03, 0.2), latency=(0.3, 1.5), cpu=(0.0, 0.1)),
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
    echo_logs=(failed_call_log(500, "5:900"), RETRY_LOG),
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
        *investigation(
            "{decoy_service} deployed at {decoy_hm}, could that be it?",
            "{decoy_service} is not in the call path and its graphs are flat. {root} {version} "
            "went out at "
            "{change_hm} ({change_id}, {actor})",
            "that's my release. the traces show {exception} in {handler}, which I touched",
            confession_hi=9.0,
        ),
        decision("decision: roll back {root} to {prev_version}", -7.0, -5.0),
        fix_applied("rollback {mitigation_id} started", -4.0, -2.0),
        recovery("rollback finished, {root} error rate is back to baseline", 0.5, 2.0),
        resolution("15 minutes clean, resolving. {actor} owns the postmortem", -2.0, -0.5),
    ),
    actions=(
        ActionSpec(
            title="Gate {root} production deploys on automated canary analysis of 5xx rate",
            type="prevent",
            hypothesis="A 10% canary compared against baseline would have caught the 5xx increase in "
            "under 5 minutes, before full rollout",
            expected_impact="Bad {root} releases reach at most 10% of traffic for 5 minutes",
            success_metric="Share of {root} deploys rolled back after full rollout, per quarter (target 0)",
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
            hypothesis="Rollback took {rollback_min} minutes of manual steps; a chat command removes them",
            expected_impact="Time from rollback decision to rollback complete under 3 minutes",
            success_metric="Median rollback duration for {root} over 30 days",
            rollback_plan="Remove the chat command; the manual runbook stays valid",
        ),
    ),
    variants={
        "exception": EXCEPTIONS,
        "handler": HANDLERS,
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
