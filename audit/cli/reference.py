"""`t2i-audit reference build`: FID/KID reference statistics from a folder of real images."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    ref = add_command(sub, "reference", None, "reference statistics for FID/KID")
    rsub = ref.add_subparsers(dest="reference_command", required=True, metavar="ACTION")
    sp = rsub.add_parser("build", help="extract features of a folder of real images")
    # Its own --quiet too, so `reference build DIR -q` works as every other command's does.
    sp.set_defaults(func=cmd_build, quiet=False)
    sp.add_argument("dir", help="folder of real images (PNG, JPEG, WebP)")
    sp.add_argument("--name", required=True, help="reference name, used by fid: {reference: NAME}")
    sp.add_argument("--out", default="reports", help="root; writes OUT/references/NAME/")
    sp.add_argument("--extractor", default="inception", help="inception | clip | a custom kind")
    sp.add_argument("--resize", default="clean", help="resize mode (part of the identity)")
    sp.add_argument("--weights", help="local extractor weights file (offline use)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing reference")
    sp.add_argument("--quiet", "-q", action="store_true")


def cmd_build(args: argparse.Namespace) -> int:
    from audit.scorers.reference import build_reference

    spec = {"kind": args.extractor, "resize": args.resize}
    if args.weights:
        spec["weights"] = args.weights
    path = build_reference(
        Path(args.dir),
        args.name,
        Path(args.out),
        spec,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"reference '{args.name}': {path}")
    return 0
