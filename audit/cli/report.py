"""`t2i-audit report`: a run's report as HTML, Markdown or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "write a run's report (leaderboard, Pareto front, safety)"
    sp = add_command(sub, "report", cmd_report, help)
    sp.add_argument("run", help="run directory or exported score file")
    sp.add_argument("--format", choices=["md", "html", "json"], default="html")
    sp.add_argument("--out", help="output file (default: RUN/report.FORMAT)")


def cmd_report(args: argparse.Namespace) -> int:
    from audit.report import write_report
    from audit.store.frames import load_frames

    out = Path(args.out) if args.out else Path(args.run) / f"report.{args.format}"
    path = write_report(load_frames(args.run), args.format, out)
    print(f"report: {path}")
    return 0
