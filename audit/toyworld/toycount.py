"""Pixel-exact composition checks for the built-in toy world (`toycount`).

Registered as the scorer `toycount` through the `t2i_audit.scorers` entry-point group, as a
third-party scorer would be (pyproject.toml). The toy world's objects are flat shapes on a
light background, so counts, colours and positions are read straight from the pixels
(`audit.toyworld.reader`) instead of by a detector. Each shape the reader finds becomes a
GenEval `Detection` (label = shape name, colour read from its hue, score 1.0 so every
threshold passes; larger objects first, the role a detector's confidence plays), and
`audit.scorers.geneval.judge_selected` applies GenEval's rules unchanged: counts are "at
least N" plus an exclude for "fewer than N+1", position needs a margin of 0.1 of the boxes'
size. One check GenEval lacks is added: `toy_shape_correct`, whether the image holds exactly
the shapes the prompt names.

Metrics are binary and None where the prompt asks nothing of that kind (e.g. text prompts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.toyworld import reader


class ToyCountOptions(ScorerOptions):
    position_margin: float = 0.1
    min_area: int = 24  # pixels at 64 px; smaller blobs are noise
    min_saturation: float = 0.35


class ToyCountScorer(ImageScorer[ToyCountOptions]):
    name: ClassVar[str] = "toycount"
    version: ClassVar[str] = "1"
    offline: ClassVar[bool] = True
    batch_size = 64

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [package_requirement("scipy")]

    def metrics(self) -> list[Metric]:
        def binary(name: str, what: str) -> Metric:
            return Metric(name, "higher", "binary", what)

        return [
            binary("toy_count_correct", "exact count per shape (counting prompts)"),
            binary("toy_color_correct", "the named objects have the named colours"),
            binary("toy_position_correct", "the named relation holds (GenEval margin)"),
            binary("toy_shape_correct", "exactly the named shapes are present"),
            binary("toy_score", "every applicable check holds"),
        ]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        return [self.score_one(item.image(), item.expect) for item in items]

    def score_one(self, image: Any, expect: Any) -> dict[str, Value]:
        """Judge one image (PIL or HxWx3 uint8) against `Expectations`."""
        opts = self.options
        found = reader.read(
            image,
            reader.ReaderOptions(min_area=opts.min_area, min_saturation=opts.min_saturation),
        )
        return judge(expect, found, opts.position_margin)


def judge(expect: Any, found: Sequence[Any], margin: float = 0.1) -> dict[str, Value]:
    """Metric row for reader findings `found` against `Expectations` `expect`."""
    from audit.scorers import geneval

    if not expect.objects and not expect.exclude:
        return {m: None for m in _NAMES}
    groups: dict[str, list[geneval.Detection]] = {}
    for f in sorted(found, key=lambda f: -f.area):
        x0, y0, x1, y1 = f.box
        det = geneval.Detection(f.shape, 1.0, (x0, y0, x1 + 1.0, y1 + 1.0), f.color)
        groups.setdefault(f.shape, []).append(det)
    verdict = geneval.judge_selected(expect, groups, position_margin=margin)
    named = {geneval.normalize(o.name) for o in expect.objects}
    shape_ok = {f.shape for f in found} == named if named else None
    checks = [verdict.count_correct, verdict.color_correct, verdict.position_correct, shape_ok]
    score = verdict.correct and all(c is not False for c in checks)

    def num(flag: bool | None) -> float | None:
        return None if flag is None else float(flag)

    return {
        "toy_count_correct": num(verdict.count_correct),
        "toy_color_correct": num(verdict.color_correct),
        "toy_position_correct": num(verdict.position_correct),
        "toy_shape_correct": num(shape_ok),
        "toy_score": float(score),
    }


_NAMES = (
    "toy_count_correct",
    "toy_color_correct",
    "toy_position_correct",
    "toy_shape_correct",
    "toy_score",
)
