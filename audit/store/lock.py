"""One writer per run directory: an advisory lock that names its holder.

`run`, `ingest`, `score` and `verify --repair` hold `<run>/writer.lock` while they write. The
file holds the holder's pid, host, command and start time (JSON), so a second writer can say
whom it waits for. The lock itself is a kernel `flock`, which the kernel drops when its
process ends however it ends (kill -9 included): a lock left by a dead process is free by
construction, and the next writer takes it over, atomically, and says whose it was. The file
is never deleted (deleting it would let two writers lock two different files).

Readers (report, export, gate, dashboard, verify) never take it: SQLite's WAL gives them a
consistent snapshot without blocking the writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from audit.errors import UserError
from audit.store.failures import os_failure

LOCK_NAME = "writer.lock"
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    started: float

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), shlex.join(sys.argv)[:500], time.time())

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            raw = json.loads(text)
            return cls(
                int(raw["pid"]), str(raw["host"]), str(raw["command"]), float(raw["started"])
            )
        except (ValueError, KeyError, TypeError):
            return None  # empty (free, or its holder is just starting) or not ours

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started).isoformat(sep=" ", timespec="seconds")
        return f"pid {self.pid} on {self.host} (`{self.command}`, since {since})"


class RunLocked(UserError):
    """Another process is writing this run."""

    def __init__(self, run_dir: Path, holder: Holder | None, waited: float | None) -> None:
        who = holder.describe() if holder else "a process that is starting"
        waited_text = f" (waited {waited:.1f} s)" if waited else ""
        super().__init__(
            f"another t2i-audit process is writing this run: {who}{waited_text}",
            file=run_dir,
            fix="wait for it to finish, or add --wait to queue behind it",
        )
        self.holder = holder


class RunLock:
    """A held lock; `release()` (or leaving a `with` block) frees it."""

    def __init__(self, path: Path, fd: int, holder: Holder, took_over: Holder | None) -> None:
        self.path = path
        self.holder = holder
        self.took_over = took_over  # the dead process whose lock this one took, if any
        self._fd: int | None = fd
        self._depth = 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0 or self._fd is None:
            return
        _held.pop(_held_key(self.path), None)
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):  # the kernel lock below is what counts
            os.ftruncate(fd, 0)  # free: a reader of the file sees no holder
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Locks this process holds, so nested writers in one process (a notebook, the API) share one.
_held: dict[tuple[int, str], RunLock] = {}


def _held_key(path: Path) -> tuple[int, str]:
    return os.getpid(), str(path.resolve())


def read_holder(run_dir: Path) -> Holder | None:
    """Who holds the run's lock as the file says (None when free or unknown)."""
    try:
        return Holder.parse((run_dir / LOCK_NAME).read_text())
    except OSError:
        return None


def acquire(run_dir: Path, *, wait: float | None = None) -> RunLock:
    """Take the writer lock of `run_dir`, waiting up to `wait` seconds (None: not at all,
    inf: as long as it takes); RunLocked names the holder when it stays taken."""
    path = run_dir / LOCK_NAME
    mine = _held.get(_held_key(path))
    if mine is not None:
        mine._depth += 1
        return mine
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise os_failure(exc, path, "create the run's writer lock") from None
    start = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if wait is None or waited >= wait:
                    raise RunLocked(run_dir, _read(fd), waited if wait else None) from None
                time.sleep(min(POLL_SECONDS, max(wait - waited, 0.01)))
        previous = _read(fd)  # still there: its holder died without releasing
        holder = Holder.me()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise os_failure(exc, path, "write the run's writer lock") from None
    except BaseException:
        os.close(fd)
        raise
    lock = RunLock(path, fd, holder, previous)
    _held[_held_key(path)] = lock
    return lock


def _read(fd: int) -> Holder | None:
    try:
        return Holder.parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    except OSError:
        return None
