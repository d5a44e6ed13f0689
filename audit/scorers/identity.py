"""A score's identity: everything that can change the number it stores.

Name and version alone let a changed option keep old numbers (a watermark scored with the
wrong message looked exactly like a right one). The identity is the digest of the scorer's
name, version, canonical options (defaults filled in, so `{}` and the explicit defaults are
one identity) and what it loads (`Scorer.loads()`: weights digest, hub id and revision,
reference statistics digest). The runner stores it beside every score and recomputes a score
whose stored identity differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file, cached per (path, size, mtime) for the life of the process."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    cache_key = (real, stat.st_size, stat.st_mtime_ns)
    if cache_key not in _DIGESTS:
        h = hashlib.sha256()
        with open(real, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[cache_key] = "sha256:" + h.hexdigest()
    return _DIGESTS[cache_key]


def tree_digest(path: str | Path, pattern: str = "*") -> str:
    """Digest of every file under a directory (relative names and contents), in name order."""
    root = Path(path)
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob(pattern) if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(file_digest(p).encode() + b"\0")
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class ScorerInstance:
    """One entry of a spec's `scorers:` list, as run: what its stored scores are tied to."""

    instance: str  # the `as` label, or the scorer's name when unlabelled
    label: str | None
    scorer: str
    version: str
    options: dict[str, Any]
    loads: dict[str, str]

    @property
    def identity(self) -> str:
        canonical = json.dumps(
            {
                "scorer": self.scorer,
                "version": self.version,
                "options": self.options,
                "loads": self.loads,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def record(self) -> dict[str, Any]:
        """What run.json and the ledger keep of this instance."""
        return {
            "scorer": self.scorer,
            "label": self.label,
            "version": self.version,
            "options": self.options,
            "loads": self.loads,
            "identity": self.identity,
        }


def describe(scorer: Any, label: str | None = None) -> ScorerInstance:
    """The instance record of a constructed scorer (`audit.scorers.base` subclass)."""
    opts = scorer.options
    skip: frozenset[str] = getattr(type(opts), "not_identity", frozenset())
    options = {k: v for k, v in opts.model_dump(mode="json").items() if k not in skip}
    return ScorerInstance(
        instance=label or scorer.name,
        label=label,
        scorer=scorer.name,
        version=str(scorer.version),
        options=options,
        loads=dict(scorer.loads()),
    )
