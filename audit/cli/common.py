"""What every command shares: the error catch, the `--quiet` option, argument types, and the
entry points of the `python -m audit....` scripts."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from audit.errors import EXIT_BAD_INPUT, UserError
from audit.store.failures import is_corruption

DEFAULT_OUT = Path("reports")
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]
Subparsers = argparse._SubParsersAction  # type: ignore[type-arg]


def add_command(
    sub: Subparsers, name: str, func: Command | None, help: str
) -> argparse.ArgumentParser:
    """A top-level command; every one takes `--quiet` (no progress bars, as in CI). `func`
    is None for a command whose required sub-command sets it (`reference build`)."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    if func is not None:
        parser.set_defaults(func=func)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    return parser


def add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def add_wait(parser: argparse.ArgumentParser) -> None:
    """`--wait [SECONDS]` for commands that write a run: queue behind another writer."""
    parser.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=float("inf"),
        metavar="SECONDS",
        help="if another process is writing this run, wait for it (at most SECONDS) "
        "instead of exiting 2",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def comma_list(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [part.strip() for part in text.split(",") if part.strip()]


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command. Bad input exits 2 with its message and no traceback (`--debug`
    shows one); Ctrl-C exits 130 and says that a rerun resumes."""
    try:
        return int(args.func(args))
    except UserError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except sqlite3.DatabaseError as exc:
        # A ledger page damaged while this command ran (opening checks them all first).
        if getattr(args, "debug", False) or not is_corruption(exc):
            raise
        print(
            f"error: a run's ledger is damaged ({exc})\n"
            "  fix: run `t2i-audit verify RUN --repair`: it rebuilds the ledger from run.json "
            "and the image files",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "interrupted; finished images are kept, run the same command to resume", file=sys.stderr
        )
        return EXIT_INTERRUPTED


def script_parser(prog: str, description: str | None, func: Command) -> argparse.ArgumentParser:
    """The parser of a `python -m` script: its options, `--debug`, and the command it runs."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.set_defaults(func=func)
    add_debug(parser)
    return parser


def run_script(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    return dispatch(parser.parse_args(argv))
