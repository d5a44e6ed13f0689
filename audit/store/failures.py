"""What a refused write or a damaged ledger becomes: a UserError naming the path and the cause.

A full disk, a read-only run directory and a ledger with damaged pages are not bugs of the
tool, so they get the CLI's exit 2 and a message saying what to do, never a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from audit.errors import UserError

NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
NOT_ALLOWED = {errno.EROFS, errno.EACCES, errno.EPERM}
KEPT = "finished images are kept"


class StorageError(UserError):
    """The disk refused a write (full, read-only, not permitted)."""


class LedgerDamaged(UserError):
    """ledger.sqlite has damaged pages; `t2i-audit verify RUN --repair` rebuilds it."""


def _fix_for(code: int | None, where: Path) -> str:
    if code == errno.EFBIG:
        return f"raise the file size limit (ulimit -f), then run the same command again ({KEPT})"
    if code in NO_SPACE:
        return (
            f"free space on the disk that holds {where}, then run the same command again ({KEPT})"
        )
    if code in NOT_ALLOWED:
        return (
            "the run directory is read-only here: give a writable --out, or copy the run "
            "somewhere writable"
        )
    return f"check the disk, then run the same command again ({KEPT})"


def os_failure(exc: OSError, path: Path, doing: str = "write") -> StorageError:
    cause = exc.strerror or type(exc).__name__
    return StorageError(
        f"cannot {doing} ({cause})", file=path, fix=_fix_for(exc.errno, path.parent)
    )


def ledger_damaged(path: Path, detail: str) -> LedgerDamaged:
    return LedgerDamaged(
        f"the ledger is damaged ({detail})",
        file=path,
        fix=f"run `t2i-audit verify {path.parent} --repair`: it rebuilds the ledger from "
        "run.json and the image files, keeps every score it can and says what it re-queued",
    )


def is_corruption(exc: BaseException) -> bool:
    """SQLITE_CORRUPT / SQLITE_NOTADB ("database disk image is malformed", "file is not a
    database"); sqlite3 raises both as a bare DatabaseError."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or type(exc) is sqlite3.DatabaseError
    )


_SQLITE_ERRNO = {
    "SQLITE_FULL": errno.ENOSPC,
    "SQLITE_READONLY": errno.EROFS,
    "SQLITE_CANTOPEN": errno.EACCES,
    "SQLITE_PERM": errno.EPERM,
    "SQLITE_IOERR": None,
}


def sqlite_failure(exc: sqlite3.Error, path: Path) -> UserError | None:
    """The UserError for a ledger error the user can act on, None for a bug (re-raise it)."""
    if is_corruption(exc):
        return ledger_damaged(path, str(exc))
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, code in _SQLITE_ERRNO.items():
        if name.startswith(prefix):
            return StorageError(
                f"cannot write the ledger ({exc})", file=path, fix=_fix_for(code, path.parent)
            )
    return None
