"""Crash points for the kill -9 tests (tests/harness/test_faults.py); inert unless asked.

`T2I_AUDIT_FAULT=POINT:N` makes the process SIGKILL itself the N-th time it passes
`crash_point(POINT)`: no `finally`, no rollback, no flush, exactly as a power cut or the OOM
killer would end it. Without the variable each call is one dictionary lookup. The points:

- `image-temp`: an image's temporary file is written, not yet renamed into place
  (`file-temp`: the same for run.json and reports)
- `image-file`: the image file is in place, not yet recorded in the ledger
- `score-row`: inside a per-image score transaction, after one image's values
- `set-update`: inside a set-level metric, after one chunk of images was fed to it
- `set-row`: inside a set-level score transaction, before it commits

Imports nothing from the package, so any part may call it.
"""

from __future__ import annotations

import os
import signal

ENV = "T2I_AUDIT_FAULT"
POINTS = ("file-temp", "image-temp", "image-file", "score-row", "set-update", "set-row")
_passed: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.rpartition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if str(_passed[name]) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
