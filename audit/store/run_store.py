"""A run directory: `run.json` beside `ledger.sqlite` and `images/<k[:2]>/<k>.<ext>`."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.environment import installed_versions
from audit.errors import UserError
from audit.faults import crash_point
from audit.store.failures import os_failure
from audit.store.ledger import SCHEMA_VERSION, ImageRecord, Ledger
from audit.store.lock import RunLock, acquire

RUN_FORMAT_VERSION = 1
TRACKED_PACKAGES = (
    "t2i-audit", "torch", "diffusers", "transformers", "open-clip-torch", "torchmetrics",
    "torch-fidelity", "numpy", "pillow", "scipy", "pandas", "c2pa-python",
    "invisible-watermark", "rapidocr", "onnxruntime",
)  # fmt: skip
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}


def package_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **installed_versions(TRACKED_PACKAGES)}


def git_revision() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, *, crash: str = "file-temp") -> None:
    """Write to a temporary file in the same folder, flush, fsync, then rename over `path`.

    A refused write (disk full, read-only) removes the temporary file and raises a
    StorageError naming `path` and the cause; `path` keeps what it had. A temporary file
    left by a killed process starts with a dot and is removed by the next writer."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        crash_point(crash)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise os_failure(exc, path) from exc
        raise


class RunStore:
    """Owns one run directory for writing. Images are written first, then recorded in the
    ledger. Holds the run's writer lock (`audit.store.lock`) from open to `close()`: a
    second writer waits up to `wait` seconds, then gets a UserError naming the holder."""

    def __init__(
        self, run_dir: Path, *, create: bool, fresh: bool = False, wait: float | None = None
    ) -> None:
        self.dir = run_dir
        if create:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise os_failure(exc, run_dir, "create the run directory") from None
        elif not (run_dir / "ledger.sqlite").is_file():
            raise UserError(
                "not a t2i-audit run directory (no ledger.sqlite)",
                file=run_dir,
                fix="give a directory made by `t2i-audit run` or `t2i-audit ingest`",
            )
        self.lock: RunLock = acquire(run_dir, wait=wait)
        try:
            if fresh:
                self.wipe(run_dir)
            remove_stale_temporaries(run_dir)
            self.ledger = Ledger(run_dir / "ledger.sqlite")
        except BaseException:
            self.lock.release()
            raise
        if self.ledger.migrated_from is not None:
            # Said in run.json, where report and dashboard show a run's history.
            self.write_info(
                ledger_migration={
                    "from_schema": self.ledger.migrated_from,
                    "to_schema": SCHEMA_VERSION,
                    "at": time.time(),
                    "dropped": "scores of unknown options (schema 1 did not record them); "
                    "`t2i-audit score` computes them again"
                    if self.ledger.migrated_from == 1
                    else "nothing (schema 3 adds the table of timing passes)",
                }
            )

    @classmethod
    def open(cls, run_dir: str | Path, *, wait: float | None = None) -> RunStore:
        return cls(Path(run_dir), create=False, wait=wait)

    @staticmethod
    def wipe(run_dir: Path) -> None:
        """--fresh: remove what an earlier run left (only files this tool writes)."""
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "run.json"):
            (run_dir / name).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "images", ignore_errors=True)

    def close(self) -> None:
        try:
            self.ledger.close()
        finally:
            self.lock.release()

    # --- run.json -------------------------------------------------------------------------

    @property
    def run_json_path(self) -> Path:
        return self.dir / "run.json"

    def read_info(self) -> dict[str, Any]:
        if not self.run_json_path.is_file():
            return {}
        return dict(json.loads(self.run_json_path.read_text()))

    def write_info(self, **fields: Any) -> dict[str, Any]:
        info = self.read_info()
        info.setdefault("format_version", RUN_FORMAT_VERSION)
        info.setdefault("created_at", time.time())
        info.update(fields)
        info["updated_at"] = time.time()
        info.setdefault("versions", package_versions())
        info.setdefault("git_revision", git_revision())
        info.setdefault("platform", f"{platform.system()} {platform.machine()}")
        info.setdefault("argv", sys.argv)
        write_atomic(self.run_json_path, json.dumps(info, indent=2, default=str).encode())
        return info

    # --- images ---------------------------------------------------------------------------

    def relative_image_path(self, key: str, ext: str = ".png") -> str:
        # Keys are hex digests, so the path cannot leave the run directory.
        if not all(c in "0123456789abcdef" for c in key) or len(key) < 8:
            raise ValueError(f"not a request key: {key!r}")
        return f"images/{key[:2]}/{key}{ext}"

    def image_path(self, relative: str) -> Path:
        return self.dir / relative

    def save_image(self, key: str, data: bytes, *, ext: str = ".png", **record: Any) -> None:
        rel = self.relative_image_path(key, ext)
        write_atomic(self.dir / rel, data, crash="image-temp")
        crash_point("image-file")
        self.ledger.record_image(
            ImageRecord(
                key=key,
                path=rel,
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                **record,
            )
        )


def remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary files of writes a killed process never finished (`write_atomic` names them
    `.<name>.<random>`); only a writer holding the lock may remove them."""
    for tmp in [*run_dir.glob(".run.json.*"), *run_dir.glob("images/*/.*")]:
        tmp.unlink(missing_ok=True)
