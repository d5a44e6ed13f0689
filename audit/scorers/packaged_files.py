"""Checks for weight files that ship inside an installed package, without importing it.

`check()` must stay cheap (it answers `t2i-audit doctor`), so the package directory is found
through its import spec rather than by importing the (heavy) package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from audit.scorers.base import Requirement


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
