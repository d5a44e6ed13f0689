"""Command line: parse, call, print. No logic lives here.

One module per command (`audit/cli/gate.py` is `t2i-audit gate`); each registers its parser
and turns the parsed options into plain arguments for the library, whose results it prints.
`common` holds what they share. Exit codes: 0 success, 1 a gate found a regression (or
`verify` found damage), 2 bad input (config, path, option) printed without a traceback
(`--debug` shows it).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from audit.cli import (
    bench,
    dashboard,
    doctor,
    export,
    gate,
    ingest,
    plan,
    reference,
    report,
    run,
    samplers,
    score,
    suites,
    toyworld,
    verify,
)
from audit.cli.common import add_debug, dispatch

# In the order `t2i-audit --help` lists them.
COMMANDS = (
    plan, run, ingest, score, export, verify, suites, samplers, doctor, bench, report, gate,
    reference, toyworld, dashboard,
)  # fmt: skip

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2i-audit", description=__doc__.splitlines()[0])
    add_debug(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser().parse_args(argv))
