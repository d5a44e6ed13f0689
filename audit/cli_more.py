"""Commands for reference statistics, reports, the gate, the dashboard, benchmarks and the
toy world. Kept apart from cli.py so each command's wiring stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(sub: argparse._SubParsersAction, add: Callable) -> None:  # type: ignore[type-arg]
    pass
