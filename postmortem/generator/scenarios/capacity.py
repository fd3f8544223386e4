"""Capacity exhaustion under growing traffic, with an innocent deploy nearby."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import decision, fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import ActionSpec, Scenario, effects, failed_call_log

SATURATION = Scenario(
    name="saturation",
    culprit_kind="saturation",
    change_kind=None,
    root_kinds=("app", "db"),
    onset_role="saturation",
    root_effects=effects(errors=(0.04, 0.25), latency=(1.5, 6.0), cpu=(0.6, 1.2), saturation=(1.0, 2.0)),
    caller_effects=effects(errors=(0.02, 0.15), latency=(0.5, 2.5)),
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
        failed_call_log(503, "1000:10000"),
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
        *investigation(
            "{decoy_service} {decoy_version} went out at {decoy_hm}, right before this. rollback?",
            "{decoy_service} looks healthy. {root} {sat_metric} has been climbing since {precursor_hm}, "
            "traffic is up {growth_pct}%",
        ),
        decision("decision: scale {root} out, no rollback", -8.0, -5.0),
        fix_applied("scaled {root} to {replicas_after} replicas ({mitigation_id})"),
        recovery("{sat_metric} on {root} dropping, errors recovering"),
        resolution("resolving. capacity review in the postmortem"),
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
