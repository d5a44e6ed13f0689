"""`t2i-audit samplers`: sampler names and the diffusers schedulers behind them."""

from __future__ import annotations

import argparse

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "list sampler names and their diffusers schedulers"
    add_command(sub, "samplers", cmd_samplers, help)


def cmd_samplers(args: argparse.Namespace) -> int:
    from audit.generate.samplers import SAMPLERS

    for s in SAMPLERS.values():
        flags = ", ".join(f"{k}={v}" for k, v in s.config.items())
        print(f"{s.name:<22}{s.family:<6}{s.scheduler}{' (' + flags + ')' if flags else ''}")
    return 0
