"""`t2i-audit suites`: the built-in prompt suites."""

from __future__ import annotations

import argparse

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    add_command(sub, "suites", cmd_suites, "list the built-in prompt suites")


def cmd_suites(args: argparse.Namespace) -> int:
    from audit.prompts import list_suites

    for name, count, desc in list_suites():
        print(f"{name:<14}{count:>5}  {desc}")
    return 0
