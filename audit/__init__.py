"""t2i-audit: evaluation and safety auditing for text-to-image diffusion models.

The public Python API (see README, "Python API"):

    audit.run(spec_path, out=...)     run a sweep, return the Run
    audit.open_run(path)              a run's frames (images, scores, sets) as DataFrames
    audit.score(images, prompts, scorers=[...], options=...)   score PIL images directly

They are loaded on first use (PEP 562), so `import audit` and `t2i-audit --help` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Run", "__version__", "open_run", "run", "score"]

if TYPE_CHECKING:
    from audit.api import Run, open_run, run, score

_API = {"Run", "open_run", "run", "score"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from audit import api

        return getattr(api, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
