"""Where the built-in suites live: every prompts/<name>.yaml at the repository root is one."""

from __future__ import annotations

from pathlib import Path

# audit/prompts/builtin.py -> repository root. The suites ship beside the package, as the
# design's layout has them; an install that is not editable must carry this folder along.
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "prompts"


def builtin_suite_names() -> list[str]:
    """Names of the built-in suites, sorted: the stems of prompts/*.yaml."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml") if path.is_file())


def builtin_path(name: str) -> Path | None:
    """The YAML file of built-in suite `name`, or None when there is no such suite."""
    return BUILTIN_DIR / f"{name}.yaml" if name in builtin_suite_names() else None
