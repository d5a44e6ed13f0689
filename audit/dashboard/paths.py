"""Which runs the dashboard may open, and which files it may read for the browser.

Everything a browser sends (query parameters, widget values) names a run by a relative
name such as `smoke` or `baselines/smoke`. `resolve_run` is the one gate from such a name to
a directory: it accepts only plain path components, resolves symlinks and refuses anything
that ends up outside the reports directory. Image files are checked the same way against
their run directory, since a ledger can be copied from anywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audit.errors import UserError

REPORTS_ENV = "T2I_AUDIT_REPORTS"
DEFAULT_REPORTS = "reports"
MAX_DEPTH = 3
"""Runs are found at most this many folders below the reports directory."""

_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_SKIP = {"images", "__pycache__", "node_modules"}


def reports_root(value: str | os.PathLike[str] | None = None) -> Path:
    """The reports directory: `value`, else $T2I_AUDIT_REPORTS, else ./reports (resolved)."""
    raw = value if value is not None else os.environ.get(REPORTS_ENV) or DEFAULT_REPORTS
    return Path(raw).expanduser().resolve()


@contextmanager
def reports_in_environment(root: Path) -> Iterator[None]:
    """$T2I_AUDIT_REPORTS set to `root` while the app runs in this process (AppTest: health
    check, benchmark), as the launcher sets it for a server; restored afterwards."""
    before = os.environ.get(REPORTS_ENV)
    os.environ[REPORTS_ENV] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(REPORTS_ENV, None)
        else:
            os.environ[REPORTS_ENV] = before


def is_run_dir(path: Path) -> bool:
    return (path / "ledger.sqlite").is_file()


def find_runs(root: Path) -> list[str]:
    """Names (relative posix paths) of the run directories under `root`, sorted.

    Symlinked folders are followed only when they stay inside `root`."""
    root = root.resolve()
    if not root.is_dir():
        return []
    found: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return
        for child in children:
            if child.name in _SKIP or child.name.startswith(".") or not child.is_dir():
                continue
            if not child.resolve().is_relative_to(root):
                continue
            if is_run_dir(child):
                found.append(child.relative_to(root).as_posix())
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    if is_run_dir(root):
        found.append(".")
    walk(root, 1)
    return found


def check_run_name(name: object) -> str:
    """`name` if it is a relative run name made of safe components, else UserError."""
    if not isinstance(name, str) or not name or len(name) > 400:
        raise UserError(f"{name!r} is not a run name", fix="pick a run from the list")
    if name == ".":
        return name
    parts = name.split("/")
    if len(parts) > MAX_DEPTH or not all(_COMPONENT.match(p) and p != ".." for p in parts):
        raise UserError(
            f"{name!r} is not a run name",
            fix="use the name of a run folder inside the reports directory, e.g. 'smoke'",
        )
    return name


def resolve_run(root: Path, name: object) -> Path:
    """The run directory `name` under `root`; UserError if it leaves `root` or is no run."""
    checked = check_run_name(name)
    root = root.resolve()
    path = (root / checked).resolve()
    if not path.is_relative_to(root):
        raise UserError(
            f"run {checked!r} is outside the reports directory",
            file=root,
            fix="runs must live inside the reports directory (no links out of it)",
        )
    if not is_run_dir(path):
        raise UserError(
            f"no run named {checked!r}",
            file=root,
            fix="pick a run from the list; a run folder holds ledger.sqlite",
        )
    return path


def safe_file(run_dir: Path, path: str | os.PathLike[str] | None) -> Path | None:
    """`path` resolved, if it is an existing file inside `run_dir`; otherwise None."""
    if path is None or (isinstance(path, float)) or not str(path):
        return None
    base = run_dir.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if not resolved.is_relative_to(base) or not resolved.is_file():
        return None
    return resolved


def safe_picture(run_dir: Path, path: str | os.PathLike[str] | None, px: int) -> tuple[Any, str]:
    """(image, "") for a file inside `run_dir` that decodes, scaled to fit px x px; else
    (None, why not). Read through the store's bounded reader, never by Streamlit from the
    path, so a decompression bomb or a truncated file is a warning on the page, not a crash."""
    from audit.store.images import ImageUnreadable, open_image

    found = safe_file(run_dir, path)
    if found is None:
        return None, "Image file missing or outside the run directory."
    try:
        img = open_image(found)
    except ImageUnreadable as exc:
        return None, f"Unreadable image: {exc.problem}."
    img.thumbnail((px, px))
    return img, ""
