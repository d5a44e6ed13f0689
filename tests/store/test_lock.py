"""One writer per run: a second writer waits or exits 2 naming the holder; a dead holder's
lock is taken over; readers never take it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from audit.cli import main
from audit.store.lock import LOCK_NAME, RunLocked, acquire, read_holder


@contextmanager
def held_elsewhere(run_dir: Path, hold: float = 60.0) -> Iterator[int]:
    """A forked process that holds the run's lock for `hold` seconds; yields its pid."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only file operations, then sleep
        try:
            os.close(ready_r)
            sys.argv = ["t2i-audit", "run", "other.yaml"]
            lock = acquire(run_dir)
            os.write(ready_w, b"x")
            time.sleep(hold)
            lock.release()
        finally:
            os._exit(0)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    try:
        yield pid
    finally:
        with_kill(pid)


def with_kill(pid: int) -> None:
    with suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_a_second_writer_is_told_who_holds_the_run(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path) as pid:
        with pytest.raises(RunLocked) as err:
            acquire(tmp_path)
        text = str(err.value)
        assert f"pid {pid}" in text and socket.gethostname() in text
        assert "t2i-audit run other.yaml" in text and "since" in text
        assert "--wait" in text
        holder = read_holder(tmp_path)
        assert holder is not None and holder.pid == pid


def test_score_on_a_run_being_written_exits_2_naming_the_holder(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with held_elsewhere(smoke_run) as pid:
        assert main(["score", str(smoke_run), "--scorers", "efficiency", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"pid {pid}" in err and "another t2i-audit process is writing" in err
        assert "Traceback" not in err
        assert main(["score", str(smoke_run), "--scorers", "efficiency", "--wait", "0.3"]) == 2
        assert "waited 0.3 s" in capsys.readouterr().err
        # Readers neither wait nor fail while the writer holds it.
        assert main(["verify", str(smoke_run)]) == 0
        assert (
            main(["export", str(smoke_run), "--format", "csv", "--out", str(tmp_path / "e.csv")])
            == 0
        )


def test_wait_queues_behind_the_holder(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path, hold=0.5):
        start = time.monotonic()
        lock = acquire(tmp_path, wait=30)
        assert time.monotonic() - start >= 0.3
        assert lock.took_over is None  # released properly, not taken over
        lock.release()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path) as pid:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        lock = acquire(tmp_path)  # no wait needed: the kernel dropped the dead one's lock
        assert lock.took_over is not None and lock.took_over.pid == pid
        assert read_holder(tmp_path).pid == os.getpid()  # type: ignore[union-attr]
        lock.release()
    assert read_holder(tmp_path) is None  # released: the file says no one holds it


def test_a_stale_file_from_a_dead_host_process_is_taken_over(tmp_path: Path) -> None:
    stale = {"pid": 999999, "host": "gone", "command": "t2i-audit run x", "started": 1.0}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    lock = acquire(tmp_path)
    assert lock.took_over is not None and lock.took_over.host == "gone"
    lock.release()


def test_nested_writers_in_one_process_share_the_lock(tmp_path: Path) -> None:
    outer = acquire(tmp_path)
    inner = acquire(tmp_path)
    assert inner is outer
    inner.release()
    assert not taken_by_another_process(tmp_path)  # still held by us
    outer.release()
    assert read_holder(tmp_path) is None
    assert taken_by_another_process(tmp_path)


def taken_by_another_process(run_dir: Path) -> bool:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            acquire(run_dir).release()
            code = 0
        except RunLocked:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) in (0, 3)
    return os.WEXITSTATUS(status) == 0
