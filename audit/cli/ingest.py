"""`t2i-audit ingest`: make a run from images generated elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command, add_wait


def register(sub: Subparsers) -> None:
    sp = add_command(sub, "ingest", cmd_ingest, "make a run from images generated elsewhere")
    sp.add_argument("dir")
    sp.add_argument("--out", required=True, help="run directory to create or extend")
    sp.add_argument(
        "--layout",
        choices=["jsonl", "geneval"],
        default="jsonl",
        help="jsonl: DIR/metadata.jsonl, one object per image ({file, prompt, ...}: the "
        "README's command table lists the fields); geneval: GenEval's folder layout",
    )
    sp.add_argument("--model", help="model label when the metadata has none")
    sp.add_argument(
        "--suite", default="ingested", help="suite label; the gate pairs runs of one suite"
    )
    add_wait(sp)


def cmd_ingest(args: argparse.Namespace) -> int:
    from audit.ingest import ingest

    total, new = ingest(
        Path(args.dir),
        Path(args.out),
        layout=args.layout,
        model=args.model,
        suite=args.suite,
        quiet=args.quiet,
        wait=args.wait,
    )
    print(f"{args.out}: {total} images ({new} new)")
    return 0
