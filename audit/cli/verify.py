"""`t2i-audit verify`: the ledger against the image files; exit 1 if anything is damaged."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command, add_wait


def register(sub: Subparsers) -> None:
    help = "check the ledger against the image files (exit 1 if damaged)"
    sp = add_command(sub, "verify", cmd_verify, help)
    sp.add_argument("run")
    sp.add_argument(
        "--repair",
        action="store_true",
        help="rebuild a damaged or missing ledger from run.json and the image files, "
        "keeping every score that survived, then verify",
    )
    add_wait(sp)


def cmd_verify(args: argparse.Namespace) -> int:
    from audit.store.verify import verify_run

    if args.repair:
        from audit.repair import repair_run

        for line in repair_run(Path(args.run), wait=args.wait).lines():
            print(line)
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
