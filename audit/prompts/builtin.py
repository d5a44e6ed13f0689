"""Where the built-in suites live: every audit/prompts/suites/<name>.yaml is one."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Package data found through importlib.resources, so an installed wheel lists and loads the
# same suites as a checkout. A Path, not a Traversable: the loader names the file in its
# errors, and wheels install unzipped, so the resources are real files.
BUILTIN_DIR = Path(str(files("audit.prompts") / "suites"))


def builtin_suite_names() -> list[str]:
    """Names of the built-in suites, sorted: the stems of suites/*.yaml."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml") if path.is_file())


def builtin_path(name: str) -> Path | None:
    """The YAML file of built-in suite `name`, or None when there is no such suite."""
    return BUILTIN_DIR / f"{name}.yaml" if name in builtin_suite_names() else None
