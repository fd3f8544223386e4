"""A schema migration that locks a hot table."""

from __future__ import annotations

from postmortem.generator.scenarios.chat import decision, fix_applied, investigation, recovery, resolution
from postmortem.generator.scenarios.spec import ActionSpec, Scenario, effects

BAD_MIGRATION = Scenario(
    name="bad_migration",
    culprit_kind="migration",
    change_kind="migration",
    culprit_status="rolled_back",
    root_kinds=("db",),
    onset_role="latency",
    root_effects=effects(latency=(5.0, 25.0), errors=(0.05, 0.3), saturation=(0.8, 1.8), cpu=(0.3, 1.0)),
    caller_effects=effects(errors=(0.04, 0.25), latency=(1.0, 6.0), saturation=(0.3, 1.0)),
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
            "query on {root} timed out after <ms:3000:10000>ms: canceling statement due to statement timeout",
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
        *investigation(
            "{decoy_service} deployed at {decoy_hm}, related?",
            "{root} shows hundreds of sessions waiting on a lock on {table}. a migration started "
            "at {change_hm}",
            "that's {migration}, mine. it should have been online-safe",
        ),
        decision("decision: cancel the migration", -4.0, -2.0),
        fix_applied("cancelled, rolling back ({mitigation_id})"),
        recovery("lock waits cleared, latency recovering"),
        resolution(),
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
