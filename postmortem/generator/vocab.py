"""Everyday vocabulary shared by every scenario: baseline logs, people, commits, chatter, noise alerts."""

from __future__ import annotations

# (level, template, weight); `{self}` is the emitting service, `{callee}` one of the services it calls
APP_LOGS: tuple[tuple[str, str, float], ...] = (
    ("info", "GET /v1/{self}/<int:1000:999999> 200 <ms:2:180>ms client=<ip>", 30.0),
    ("info", "POST /v1/{self}/<int:1000:999999> 201 <ms:5:250>ms client=<ip>", 10.0),
    (
        "info",
        "request completed method=GET path=/v1/{self} status=200 duration=<ms:2:200>ms req=<hex:16>",
        20.0,
    ),
    ("info", "user <int:100000:9999999> session <hex:24> refreshed in <ms:1:40>ms", 6.0),
    (
        "info",
        "published event {self}.updated id=<uuid> partition=<int:0:31> offset=<int:100000:9999999>",
        6.0,
    ),
    ("info", "cache <word:hit|miss> for key {self}:<hex:12> in <ms:1:9>ms", 8.0),
    ("debug", "health check ok from <ip> (<ms:1:5>ms)", 6.0),
    ("info", "connection pool stats active=<int:1:30> idle=<int:0:20> waiting=<int:0:2>", 3.0),
    ("info", "GC pause <ms:2:60>ms heap=<int:300:1800>MB", 2.0),
    ("warn", "slow call to {callee}: <ms:300:1500>ms for <hex:16>", 1.5),
    ("warn", "retrying {callee} request <hex:12> attempt=2 after <ms:50:200>ms", 0.8),
    ("error", "upstream timeout calling {callee} after <ms:1000:5000>ms trace_id=<hex:32>", 0.25),
    ("warn", "deprecated API version v0 used by client <ip>", 0.5),
)
DB_LOGS: tuple[tuple[str, str, float], ...] = (
    (
        "info",
        "checkpoint complete: wrote <int:100:9000> buffers (<float:0.1:9.9:1>%); sync files=<int:5:200>",
        4.0,
    ),
    (
        "info",
        "automatic vacuum of table <word:orders|sessions|line_items|events>: index scans: <int:0:3>",
        3.0,
    ),
    ("info", "connection authorized: user=<word:app|reporting|migrator> database={self} host=<ip>", 10.0),
    ("info", "disconnection: session time: 0:<int:10:59>:<int:10:59>.<int:100:999> user=app host=<ip>", 8.0),
    ("warn", "duration: <ms:500:2500> ms statement: SELECT * FROM events WHERE created_at > $1", 1.0),
    ("info", "replication lag <ms:0:40>ms on replica <int:1:3>", 3.0),
)
CACHE_LOGS: tuple[tuple[str, str, float], ...] = (
    ("info", "DB saved on disk, <int:1000:90000> keys, fork took <ms:5:80>ms", 1.0),
    ("info", "accepted connection from <ip>:<int:30000:65000>", 6.0),
    ("info", "evicted <int:10:5000> keys (maxmemory-policy allkeys-lru)", 2.0),
)
LOGS_BY_KIND = {"edge": APP_LOGS, "gateway": APP_LOGS, "app": APP_LOGS, "db": DB_LOGS, "cache": CACHE_LOGS}
LOG_WEIGHT_BY_KIND = {"edge": 3.0, "gateway": 2.5, "app": 1.5, "db": 0.6, "cache": 0.3, "provider": 0.0}

PEOPLE = (
    "alice.nguyen",
    "bruno.silva",
    "chen.wei",
    "dana.kowalski",
    "emeka.okafor",
    "farah.haddad",
    "gustav.lind",
    "hana.sato",
    "ines.moreau",
    "jamal.wright",
    "kira.petrova",
    "liam.oconnor",
    "maya.patel",
    "nils.berg",
    "olga.ivanova",
    "pablo.garcia",
    "quinn.harper",
    "rosa.mendes",
    "sam.fischer",
    "tara.singh",
    "umar.farooq",
    "vera.novak",
    "wen.zhao",
    "ximena.rojas",
    "yusuf.demir",
    "zoe.martin",
)
BOTS = ("argo-cd", "github-actions", "spinnaker", "flagd-bot", "terraform-cloud")
ORGS = ("acme", "globex", "initech", "hooli", "umbrella", "vandelay", "stark")

COMMIT_SUBJECTS = (
    "fix({svc}): handle empty {thing} in {area}",
    "feat({svc}): add {thing} endpoint",
    "chore({svc}): bump {dep} to {ver}",
    "refactor({svc}): extract {thing} {area}",
    "test({svc}): cover {thing} edge cases",
    "perf({svc}): cache {thing} lookups",
    "docs({svc}): document {thing} {area}",
    "fix({svc}): retry {thing} on transient errors",
    "feat({svc}): emit metrics for {thing}",
    'Revert "feat({svc}): batch {thing} writes"',
)
COMMIT_THINGS = ("cart", "order", "session", "price", "address", "token", "invoice", "sku", "coupon", "user")
COMMIT_AREAS = ("handler", "serializer", "client", "validator", "repository", "middleware", "worker")
COMMIT_DEPS = ("requests", "grpcio", "protobuf", "sqlalchemy", "express", "spring-boot", "log4j", "zod")
FILE_DIRS = (
    "src/{svc}/handlers",
    "src/{svc}/models",
    "src/{svc}/clients",
    "tests/{svc}",
    "src/{svc}",
    "deploy",
)
FILE_NAMES = (
    "api.py",
    "serializers.py",
    "client.py",
    "models.py",
    "views.py",
    "service.go",
    "handler.go",
    "index.ts",
    "config.yaml",
    "values.yaml",
    "test_api.py",
    "worker.py",
)

CONFIG_KEYS = (
    "log.level|info|debug",
    "cache.ttl_seconds|300|600",
    "http.server.max_body_kb|512|1024",
    "batch.size|100|200",
    "retry.max_attempts|3|4",
    "tracing.sample_rate|0.01|0.05",
)
FLAGS = (
    "dark-mode",
    "new-onboarding",
    "search-typo-tolerance",
    "gift-cards",
    "one-click-reorder",
    "promo-banner-v2",
    "address-autocomplete",
)
INFRA_CHANGES = (
    "resize node pool general-{n} to {m} nodes",
    "rotate TLS certificates for *.internal",
    "upgrade ingress controller to 1.{n}.{m}",
    "terraform: update security group sg-{n}",
    "bump {svc} memory limit to {m}Gi",
)

NOISE_ALERTS = (
    ("DiskSpaceLow", "warning", True),
    ("PodRestartingFrequently", "warning", True),
    ("CertificateExpiresSoon", "info", False),
    ("HighMemoryUsage", "warning", True),
    ("KafkaConsumerLag", "warning", False),
    ("CronJobFailed", "warning", False),
    ("NodeNotReady", "critical", True),
    ("TargetDown", "warning", False),
    ("HostHighCPU", "info", True),
)

CHANNELS_CHATTER = ("#general", "#random", "#eng", "#support")
CHATTER = (
    "anyone else seeing slow CI today?",
    "lunch order closes in 10 minutes",
    "reminder: design review at 3pm",
    "PR {n} is ready for review",
    "who owns the {svc} dashboard?",
    "merged the {svc} cleanup, thanks for the review",
    "the staging database is being refreshed tonight",
    "new laptop setup doc is in the wiki",
    "can someone approve my access request?",
    "{svc} tests are flaky again",
    "heads up: I'm on call from tomorrow",
    "coffee machine on 4th floor is fixed",
)
TEAM_CHATTER = (
    "looking at the {svc} backlog for next sprint",
    "pairing on the {svc} refactor this afternoon",
    "{svc} p99 looks fine after yesterday's change",
    "bumped the {svc} dependency, CI green",
)
SUPPORT_TITLES = (
    "Customer cannot {capability}",
    "Error 500 on {edge} while trying to {capability}",
    "App shows 'Something went wrong' on {capability}",
    "Order stuck in pending state",
    "Customer charged but no confirmation email",
    "Very slow page loads reported from EU",
    "Repeated failures to {capability} for enterprise account",
)
BACKGROUND_TICKETS = (
    "Upgrade {svc} base image",
    "Flaky test in {svc} integration suite",
    "Add pagination to {svc} list endpoint",
    "Rotate credentials for {svc}",
    "Dashboard for {svc} missing latency panel",
    "Clean up unused feature flags in {svc}",
    "Customer asks for CSV export",
    "Typo on pricing page",
)

VAGUE_ACTIONS = (
    {"title": "Investigate {root} errors", "owner": None, "due": None, "type": None},
    {"title": "Improve monitoring", "type": "detect", "due": "PAST"},
    {"title": "Be more careful with production changes", "type": "process"},
    {"title": "Add more tests", "owner": None, "type": "prevent"},
    {"title": "Look into {caller} timeouts", "type": None, "due": "PAST"},
)
