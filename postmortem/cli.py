"""The `postmortem` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from connectors.bundle import load_bundle
from connectors.bundle_format import BundleError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_BUNDLE = EXAMPLES / "bad-deploy-rollback"


def _prefect_defaults() -> None:
    """Quiet, local-friendly Prefect defaults, set before Prefect is imported (explicit settings win)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _parse_now(value: str) -> datetime:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--now {value!r} needs a UTC offset")
    return ts


def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the analysis document of a bundle (publishes nothing)."""
    from postmortem.settings import get_settings
    from postmortem.store import open_store
    from postmortem.summary import format_summary, summarize
    from tasks.analyze import analyze
    from tasks.quality import QualityConfigError, build_policy, quality_settings

    bundle = load_bundle(args.bundle)
    try:
        build_policy(quality_settings())  # a bad [quality] table stops here, naming file, table and field
    except QualityConfigError as exc:
        print(f"postmortem: invalid configuration: {exc}", file=sys.stderr)
        return 2
    history = []
    if args.history:
        with open_store(get_settings().db_url) as store:
            history = store.past_incidents(exclude_id=bundle.incident.id)
    analysis = analyze(bundle, history=history, now=args.now)
    print(analysis.to_json() if args.json else format_summary(summarize(analysis)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the `postmortem` flow on a bundle and print the summary."""
    bundle = load_bundle(args.bundle)  # structural errors exit 2 before any run starts
    _prefect_defaults()
    from flows.postmortem import postmortem
    from postmortem.summary import format_summary

    summary = postmortem(
        incident_id=bundle.incident.id,
        bundle=str(Path(args.bundle).resolve()),
        rerun_reason=args.rerun_reason,
    )
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the flow on the bundled demo incident."""
    print(f"Demo: running the postmortem flow on {DEMO_BUNDLE.relative_to(EXAMPLES.parent)}", flush=True)
    args.bundle, args.rerun_reason = str(DEMO_BUNDLE), "demo"
    return cmd_run(args)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply the store's migrations."""
    from postmortem.settings import get_settings
    from postmortem.store import open_store

    with open_store(get_settings().db_url) as store:
        store.upgrade()
    print("database is at the latest migration")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the audit log's hash chain; exit 1 when it was tampered with."""
    from postmortem.settings import get_settings
    from postmortem.store import open_store

    with open_store(get_settings().db_url) as store:
        result = store.verify_audit_log()
    if result.ok:
        print(f"audit log intact: {result.entries} entries")
        return 0
    print(f"audit log BROKEN ({result.entries} entries):", file=sys.stderr)
    for problem in result.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def cmd_webhook(args: argparse.Namespace) -> int:
    """Serve the signed-webhook receiver that emits `incident.closed` events to Prefect."""
    _prefect_defaults()
    from postmortem.webhook.serve import serve

    return serve(args.host, args.port, access_log=args.access_log)


def cmd_validation_worker(args: argparse.Namespace) -> int:
    """Serve the data-quality checks to postmortem flows from a process that keeps GX imported."""
    _prefect_defaults()
    from tasks.served_validation import serve_validation

    serve_validation(limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="postmortem", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="analyse a bundle and print the result (publishes nothing)")
    p.add_argument("bundle")
    p.add_argument("--json", action="store_true", help="print the DESIGN 6.2 JSON document")
    p.add_argument("--now", type=_parse_now, help="evaluate due dates against this time (ISO 8601)")
    p.add_argument("--no-history", dest="history", action="store_false", help="skip similar-incident search")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("run", help="run the postmortem flow on a bundle")
    p.add_argument("bundle")
    p.add_argument("--rerun-reason")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run the flow on the bundled demo incident")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "generate", help="write a generated incident bundle with its ground truth", add_help=False
    )
    p.set_defaults(func=None)

    p = sub.add_parser(
        "collect", help="pull an incident's evidence from the configured connectors", add_help=False
    )
    p.set_defaults(func=None)

    conn = sub.add_parser("connectors", help="connector types")
    conn.add_subparsers(dest="connectors_command", required=True).add_parser(
        "list", help="each type, its capabilities and config fields", add_help=False
    ).set_defaults(func=None)

    p = sub.add_parser("webhook", help="serve the PagerDuty / incident.io / generic webhook receiver")
    p.add_argument("--host", help="listen address (default POSTMORTEM_WEBHOOK_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default POSTMORTEM_WEBHOOK_PORT or 8787)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_webhook)

    p = sub.add_parser(
        "validation-worker", help="validate bundles for flows run with POSTMORTEM_VALIDATION_WORKER=true"
    )
    p.add_argument("--limit", type=int, default=4, help="bundles validated at once (default 4)")
    p.set_defaults(func=cmd_validation_worker)

    db = sub.add_parser("db", help="store maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    audit = sub.add_parser("audit-log", help="audit log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="verify the hash chain").set_defaults(func=cmd_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 on invalid input, 1 on other failures (collect: 3 when partial)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:
        from postmortem.generator.cli import main as generate_main

        return generate_main(argv[1:])
    if argv[:1] == ["collect"]:
        from connectors.commands import main as collect_main

        return collect_main(argv[1:])
    if argv[:2] == ["connectors", "list"]:
        from connectors.commands import list_main

        return list_main(argv[2:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BundleError as exc:
        print(f"postmortem: invalid bundle: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
