"""Progress bars with ETA on a terminal; silent in CI (--quiet or not a TTY)."""

from __future__ import annotations

import sys
from typing import Any


def progress(total: int, desc: str, *, quiet: bool = False) -> Any:
    from tqdm import tqdm

    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="img", disable=disable, dynamic_ncols=True)


def say(message: str, *, quiet: bool = False) -> None:
    """Short status lines go to stderr so stdout stays clean for data."""
    if not quiet:
        print(message, file=sys.stderr, flush=True)
