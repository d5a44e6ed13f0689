"""`t2i-audit export`: one row per image with every per-image metric (csv or parquet)."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    sp = add_command(sub, "export", cmd_export, "one row per image with every per-image metric")
    sp.add_argument("run")
    sp.add_argument("--format", choices=["csv", "parquet"], default="csv")
    sp.add_argument("--out", required=True)


def cmd_export(args: argparse.Namespace) -> int:
    from audit.store.frames import load_run, write_export

    out = Path(args.out)
    table = write_export(load_run(Path(args.run)), out, args.format)
    print(f"{out}: {len(table)} rows, {len(table.columns)} columns")
    return 0
