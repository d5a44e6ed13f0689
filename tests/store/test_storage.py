"""A full disk or a read-only run directory: a refused write leaves no temporary file and no
recorded image, and the message names the path and the cause (exit 2, no traceback)."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.cli import main
from audit.store.failures import StorageError
from audit.store.run_store import RunStore
from tests import hostile

KEY = "cd" * 32


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _save(store: RunStore, key: str = KEY) -> None:
    store.save_image(
        key, hostile.encode(hostile.rgb(16)), gen_seconds=0.1, peak_mem_mb=1.0,
        nan_or_black=False, safety_flag=None, origin="generated",
    )  # fmt: skip


def test_a_full_disk_while_writing_an_image_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "run", create=True)
    try:

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", full)
        with pytest.raises(StorageError) as err:
            _save(store)
        text = str(err.value)
        assert f"images/cd/{KEY}.png" in text and "No space left on device" in text
        assert "free space" in text and "finished images are kept" in text
        assert not list((tmp_path / "run" / "images").rglob("*"))[1:]  # only the cd/ folder
        assert store.ledger.image_paths() == {}
        monkeypatch.undo()
        _save(store)  # space again: the same write goes through
        assert list(store.ledger.image_paths()) == [KEY]
    finally:
        store.close()


def test_a_full_disk_under_the_ledger_is_a_message_naming_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run", create=True)
    try:
        pages = store.ledger.conn.execute("PRAGMA page_count").fetchone()[0]
        store.ledger.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite: "disk is full"
        rows = [(KEY, {f"m{i}": float(i) for i in range(2000)})]
        with pytest.raises(StorageError) as err:
            store.ledger.record_scores("quality", "id", rows)
        assert "ledger.sqlite" in str(err.value) and "full" in str(err.value)
        assert store.ledger.scored_identities("quality") == {}  # rolled back, whole
    finally:
        store.close()


def test_a_refused_write_of_any_kind_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "run", create=True)
    try:

        def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
        with pytest.raises(StorageError) as err:
            store.write_info(status="x")
        assert "run.json" in str(err.value) and "Read-only file system" in str(err.value)
        assert "read-only" in (err.value.fix or "")
    finally:
        store.close()


def _make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~0o222 | (0o555 if path.is_dir() else 0o444))


def _as_other_user(action: Callable[[], int], err_file: Path) -> int:
    """Run `action` in a forked child as an unprivileged user (root writes anywhere, so a
    read-only directory only is one for someone else); its stderr goes to `err_file`."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            sys.stderr = open(err_file, "w")  # noqa: SIM115 (the child exits right after)
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            code = action()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status)


def test_a_read_only_run_is_read_but_not_written(smoke_run: Path) -> None:
    """Writers exit 2 naming the directory and the cause; readers work as usual."""
    shared = Path(tempfile.mkdtemp(prefix="t2i-ro-", dir="/tmp"))
    try:
        shared.chmod(0o777)
        run = shared / "smoke"
        shutil.copytree(smoke_run, run)
        for name in ("writer.lock", "ledger.sqlite-wal", "ledger.sqlite-shm"):
            (run / name).unlink(missing_ok=True)
        warm = shared / "warm"
        shutil.copytree(run, warm)
        out = shared / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        # Warm up: every module the commands import is loaded before the user changes
        # (the unprivileged child could not read the interpreter's own library folder).
        assert main(["verify", str(warm)]) == 0
        main(["export", str(warm), "--format", "csv", "--out", str(out / "warm.csv")])
        main(["score", str(warm), "--scorers", "efficiency", "--quiet"])
        _make_read_only(run)
        before = _files(run)
        err = shared / "err.txt"

        assert _as_other_user(lambda: main(["score", str(run), "--quiet"]), err) == 2
        text = err.read_text()
        assert str(run) in text and "Permission denied" in text and "read-only" in text
        assert "Traceback" not in text
        assert _as_other_user(lambda: main(["verify", str(run)]), err) == 0
        export = ["export", str(run), "--format", "csv", "--out", str(out / "e.csv")]
        assert _as_other_user(lambda: main(export), err) == 0, err.read_text()
        assert _files(run) == before
    finally:
        for path in [shared, *shared.rglob("*")]:
            path.chmod(0o777)
        shutil.rmtree(shared)


def test_sqlite_refusing_to_write_is_a_storage_error(tmp_path: Path) -> None:
    from audit.store.failures import sqlite_failure

    exc = sqlite3.OperationalError("attempt to write a readonly database")
    exc.sqlite_errorname = "SQLITE_READONLY"  # type: ignore[attr-defined]
    failure = sqlite_failure(exc, tmp_path / "ledger.sqlite")
    assert isinstance(failure, StorageError) and "read-only" in (failure.fix or "")
