"""`t2i-audit dashboard`: browse runs in the Streamlit app, bound to this machine."""

from __future__ import annotations

import argparse

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "browse runs in a local web app (Streamlit)"
    sp = add_command(sub, "dashboard", cmd_dashboard, help)
    sp.add_argument(
        "reports", nargs="?", help="reports directory (default: $T2I_AUDIT_REPORTS or reports/)"
    )
    sp.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    sp.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    sp.add_argument(
        "--check",
        action="store_true",
        help="render every page once without a browser and report (exit 1 on a failure)",
    )


def cmd_dashboard(args: argparse.Namespace) -> int:
    if args.check:
        from audit.dashboard.health import check

        health = check(args.reports)
        print(f"dashboard app: {health.app}")
        for finding in health.findings:
            print(f"{'ok' if finding.ok else 'FAIL':<5}{finding.what}: {finding.detail}")
        return 0 if health.ok else 1
    from audit.dashboard.server import plan, serve

    launch = plan(args.reports, port=args.port, host=args.host)
    print(f"dashboard for {launch.reports} on {launch.url}", flush=True)
    return serve(launch)
