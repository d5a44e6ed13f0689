"""Checks for weight files that ship inside an installed package, without importing it.

`check()` must stay cheap (it answers `t2i-audit doctor`), so the package directory is found
through its import spec rather than by importing the (heavy) package. The digests name those
files in a score's identity (`Scorer.loads()`); each file is hashed once per process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from audit.scorers.base import Requirement
from audit.scorers.identity import file_digest, tree_digest


def package_dir(module: str) -> Path | None:
    """Directory of an installed top-level package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_files_requirement(module: str, patterns: list[str], pip_name: str) -> Requirement:
    """Requirement that each glob pattern matches a file inside `module`'s directory."""
    what = f"weights shipped in '{pip_name}' ({', '.join(patterns)})"
    root = package_dir(module)
    if root is None:
        return Requirement(what=what, ok=False, fix=f"pip install '{pip_name}'")
    absent = [p for p in patterns if not any(f.is_file() for f in root.glob(p))]
    return Requirement(
        what=what,
        ok=not absent,
        fix=(
            f"{', '.join(absent)} missing under {root}: "
            f"pip install --force-reinstall --no-deps '{pip_name}'"
        )
        if absent
        else "",
    )


def packaged_file_digest(module: str, relative: str) -> str:
    """Digest of one file shipped inside `module`'s directory; "absent" when it is not there."""
    root = package_dir(module)
    path = root / relative if root is not None else None
    return file_digest(path) if path is not None and path.is_file() else "absent"


def packaged_tree_digest(module: str, folder: str, pattern: str = "*") -> str:
    """One digest over the files matching `pattern` under `module`'s `folder`."""
    root = package_dir(module)
    path = root / folder if root is not None else None
    return tree_digest(path, pattern) if path is not None and path.is_dir() else "absent"
