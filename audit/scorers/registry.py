"""Scorer registry: built-ins by lazy "module:attr" path, plugins from an entry-point group.

Lazy entries keep `t2i-audit --help` and spec validation free of heavy imports: a scorer's
module is imported only when that scorer is asked for.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from audit.errors import UserError
from audit.scorers.base import ImageScorer, SetScorer

ENTRY_POINT_GROUP = "t2i_audit.scorers"

ScorerClass = type[ImageScorer] | type[SetScorer]

BUILTIN: dict[str, str] = {
    "clip": "audit.scorers.clip:ClipScorer",
    "fid": "audit.scorers.fid:FidScorer",
    "counting": "audit.scorers.counting:CountingScorer",
    "text": "audit.scorers.text:TextScorer",
    "watermark": "audit.scorers.watermark:WatermarkScorer",
    "c2pa": "audit.scorers.provenance:C2paScorer",
    "nsfw": "audit.scorers.nsfw:NsfwScorer",
    "quality": "audit.scorers.quality:QualityScorer",
    "diversity": "audit.scorers.diversity:DiversityScorer",
    "efficiency": "audit.scorers.efficiency:EfficiencyScorer",
    "toycount": "audit.scorers.toycount:ToyCountScorer",
}


class Registry:
    """Name -> scorer class; refuses a second scorer under a name already taken."""

    def __init__(self) -> None:
        self._entries: dict[str, str | ScorerClass] = {}

    def register(self, name: str, target: str | ScorerClass) -> None:
        if name in self._entries:
            raise ValueError(f"a scorer named '{name}' is already registered")
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> ScorerClass:
        if name not in self._entries:
            raise UserError(
                f"unknown scorer '{name}'",
                field="scorers",
                fix=f"use one of: {', '.join(self.names())}",
            )
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        assert isinstance(target, type)
        return target


def _build_default() -> Registry:
    registry = Registry()
    for name, target in BUILTIN.items():
        registry.register(name, target)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        registry.register(ep.name, ep.value)
    return registry


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = _build_default()
    return _default
