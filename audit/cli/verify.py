"""`t2i-audit verify`: the ledger against the image files; exit 1 if anything is damaged."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "check the ledger against the image files (exit 1 if damaged)"
    sp = add_command(sub, "verify", cmd_verify, help)
    sp.add_argument("run")


def cmd_verify(args: argparse.Namespace) -> int:
    from audit.store.verify import verify_run

    report = verify_run(Path(args.run))
    for label, items in (
        ("missing", report.missing),
        ("corrupt", report.corrupt),
        ("mismatched", report.mismatched),
        ("not in ledger", report.orphans),
    ):
        for item in items:
            print(f"{label}: {item}")
    verdict = "ok" if report.ok else "DAMAGED"
    print(f"{args.run}: {report.checked} images checked, {verdict}")
    return 0 if report.ok else 1  # 1 as for a gate regression: the run is not fit to use
