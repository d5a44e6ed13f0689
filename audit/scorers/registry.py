"""The scorer registry: built-ins by lazy "module:attr" path, plugins from `t2i_audit.scorers`.

Lazy entries keep `t2i-audit --help` and spec validation free of heavy imports: a scorer's
module is imported only when that scorer is asked for. A plugin package adds a scorer with

    [project.entry-points."t2i_audit.scorers"]
    myscore = "mypackage.scoring:MyScorer"

(the reference world in `audit/toyworld/` registers `toycount` exactly so).
"""

from __future__ import annotations

from typing import Any

from audit.registry import Registry
from audit.scorers.base import ImageScorer, SetScorer

ENTRY_POINT_GROUP = "t2i_audit.scorers"

ScorerClass = type[ImageScorer[Any]] | type[SetScorer[Any]]

BUILTIN: dict[str, str] = {
    "clip": "audit.scorers.clip:ClipScorer",
    "clip_set": "audit.scorers.clip:ClipSetScorer",
    "vqascore": "audit.scorers.vqascore:VqaScorer",
    "fid": "audit.scorers.fid:FidScorer",
    "cmmd": "audit.scorers.cmmd:CmmdScorer",
    "counting": "audit.scorers.counting:CountingScorer",
    "text": "audit.scorers.text:TextScorer",
    "watermark": "audit.scorers.watermark:WatermarkScorer",
    "c2pa": "audit.scorers.provenance:C2paScorer",
    "nsfw": "audit.scorers.nsfw:NsfwScorer",
    "quality": "audit.scorers.quality:QualityScorer",
    "diversity": "audit.scorers.diversity:DiversityScorer",
    "efficiency": "audit.scorers.efficiency:EfficiencyScorer",
    "treering": "audit.scorers.treering:TreeRingScorer",
    "pickscore": "audit.scorers.preference:PickScoreScorer",
    "hpsv2": "audit.scorers.preference:HpsScorer",
    "aesthetic": "audit.scorers.preference:AestheticScorer",
}


def new_registry() -> Registry[ScorerClass]:
    """A scorer registry holding the built-ins and the installed plugins."""
    registry: Registry[ScorerClass] = Registry(
        "scorer", group=ENTRY_POINT_GROUP, base=(ImageScorer, SetScorer), field="scorers"
    )
    for name, target in BUILTIN.items():
        registry.register(name, target)
    return registry


_default = new_registry()


def default_registry() -> Registry[ScorerClass]:
    """The registry the runner, `doctor` and the benchmarks look scorers up in."""
    return _default
