"""Counting and composition scorer: detector + GenEval-style checks, per image.

Only prompts with `expect.objects` are scored; other images get None in every column, as do
images whose prompt names a class the detector cannot see (the Haar detector knows faces and
people only) or a colour the colour classifier cannot name. Count semantics are GenEval's, see
`audit.scorers.geneval`.

Thresholds default to GenEval's (0.3, and 0.9 for counting prompts), as do the tie order
and the overlap rule (none by default); they were set for its Mask2Former detector. OWLv2's
scores sit on another scale (transformers' own default cut is 0.1), so numbers from this
scorer are GenEval-style, not comparable with GenEval's published figures; compare models
under one setting.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from audit.environment import pick_device
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.detectors import OWLV2_DEFAULT, Detector, detector_identity
from audit.scorers.geneval import ColorClassifier, Rules, class_names, normalize
from audit.scorers.identity import file_digest

METRIC_NAMES = (
    "objects_present",
    "count_correct",
    "color_correct",
    "position_correct",
    "geneval_score",
)


class CountingOptions(ScorerOptions):
    detector: Literal["owlv2", "haar"] = "owlv2"
    model: str = Field(default=OWLV2_DEFAULT, description="OWLv2 hub id or local directory")
    threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    counting_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    nms_iou: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="GenEval's max_overlap: drop a box whose overlap (GenEval's IoU) with a "
        "more confident box of the same class reaches this; 1.0, GenEval's default, keeps "
        "all. Open-vocabulary detectors that repeat boxes may want 0.5",
    )
    max_per_class: int = Field(default=16, ge=1)
    position_margin: float = Field(default=0.1, ge=0.0)
    color: Literal["clip", "hsv"] = "clip"
    clip_model: str = "ViT-L-14"
    clip_pretrained: str = Field(default="openai", description="open_clip tag or a weights file")
    device: Literal["auto", "cpu", "cuda"] = "auto"


def clip_requirement(arch: str, pretrained: str) -> Requirement:
    """Whether open_clip can load `arch` with `pretrained` here without a download."""
    from audit.environment import hub_offline
    from audit.scorers.detectors import hub_cached

    what = f"CLIP weights {arch}/{pretrained} for colour classification"
    fix = (
        f"download them once with network access (open_clip.create_model_and_transforms("
        f"'{arch}', pretrained='{pretrained}')), or set scorers.counting.clip_pretrained to a "
        "local weights file, or set scorers.counting.color: hsv (offline, not GenEval's rule)"
    )
    if Path(pretrained).is_file():
        return Requirement(what=what, ok=True)
    from audit.scorers.clip_catalog import pretrained_cfg

    cfg = pretrained_cfg(arch, pretrained)
    if not cfg:
        return Requirement(what=f"{what}: unknown to open_clip", ok=False, fix=fix)
    hub = str(cfg.get("hf_hub", "")).rstrip("/")
    if hub and any(
        hub_cached(hub, f) for f in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    ):
        return Requirement(what=f"{what} (in the Hugging Face cache)", ok=True)
    if hub_offline():
        return Requirement(what=f"{what}: not cached and HF_HUB_OFFLINE is set", ok=False, fix=fix)
    return Requirement(what=f"{what} (downloaded on first use)", ok=True)


class CountingScorer(ImageScorer[CountingOptions]):
    """Objects present, exact counts, colours and relative positions, GenEval-style."""

    name: ClassVar[str] = "counting"
    # 2: ties between equal scores ordered as GenEval's code orders them; no overlap
    # suppression by default (it was 0.5), GenEval's inclusive-pixel IoU when asked for.
    version: ClassVar[str] = "2"
    offline: ClassVar[bool] = False  # the default detector and colour model need weights
    batch_size = 8

    def __init__(self, options: CountingOptions | None = None) -> None:
        super().__init__(options)
        self._detector: Detector | None = None
        self._colors: ColorClassifier | None = None

    @classmethod
    def with_components(
        cls,
        detector: Detector,
        colors: ColorClassifier,
        options: CountingOptions | None = None,
    ) -> CountingScorer:
        """A scorer using ready-made components (tests, or models already in memory)."""
        scorer = cls(options)
        scorer._detector = detector
        scorer._colors = colors
        return scorer

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        from audit.scorers.detectors import haar_requirement, owlv2_requirement

        opts = options if isinstance(options, CountingOptions) else CountingOptions()
        reqs: list[Requirement] = []
        if opts.detector == "owlv2":
            reqs += [package_requirement("torch"), package_requirement("transformers")]
            if all(r.ok for r in reqs):
                reqs.append(owlv2_requirement(opts.model))
        else:
            reqs.append(haar_requirement())
        if opts.color == "clip":
            pkg = package_requirement("open_clip", "open-clip-torch")
            reqs.append(pkg)
            if pkg.ok:
                reqs.append(clip_requirement(opts.clip_model, opts.clip_pretrained))
        return reqs

    def metrics(self) -> list[Metric]:
        return [
            Metric("objects_present", "higher", "binary", "every expected object is detected"),
            Metric(
                "count_correct",
                "higher",
                "binary",
                "counting prompts: every count bound holds (include N + exclude N+1 = exactly N)",
            ),
            Metric("color_correct", "higher", "binary", "expected objects have the asked colour"),
            Metric("position_correct", "higher", "binary", "asked spatial relations hold"),
            Metric(
                "geneval_score",
                "higher",
                "binary",
                "every expectation holds (GenEval's per-image correctness)",
            ),
        ]

    def rules(self) -> Rules:
        o = self.options
        return Rules(
            threshold=o.threshold,
            counting_threshold=o.counting_threshold,
            max_per_class=o.max_per_class,
            nms_iou=o.nms_iou,
            position_margin=o.position_margin,
        )

    def _device(self) -> str:
        return pick_device(self.options.device)

    def loads(self) -> dict[str, str]:
        """The detector's and the colour model's weights (hub ids name theirs, as open_clip
        tags do; a local directory or file is named by its digest)."""
        o = self.options
        out = {"detector": detector_identity(o.detector, o.model)}
        if o.color == "clip":
            pretrained = Path(o.clip_pretrained).expanduser()
            weights = file_digest(pretrained) if pretrained.is_file() else o.clip_pretrained
            out["color_model"] = f"{o.clip_model}/{weights}"
        else:
            out["color_model"] = "hsv"
        return out

    def detector(self) -> Detector:
        if self._detector is None:
            from audit.scorers.detectors import HaarDetector, Owlv2Detector

            o = self.options
            if o.detector == "haar":
                self._detector = HaarDetector()
            else:
                floor = min(o.threshold, o.counting_threshold)
                self._detector = Owlv2Detector.load(o.model, device=self._device(), min_score=floor)
        return self._detector

    def color_classifier(self) -> ColorClassifier:
        if self._colors is None:
            from audit.scorers.geneval import ClipColorClassifier, HsvColorClassifier

            o = self.options
            if o.color == "hsv":
                self._colors = HsvColorClassifier()
            else:
                self._colors = ClipColorClassifier.load(
                    o.clip_model, o.clip_pretrained, device=self._device()
                )
        return self._colors

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        return [self.score_one(item) for item in items]

    def score_one(self, item: ScoreItem) -> dict[str, Value]:
        from audit.scorers.geneval import classify_colors, judge_selected, select

        empty: dict[str, Value] = dict.fromkeys(METRIC_NAMES)
        expect = item.expect
        if expect is None or not expect.objects:
            return empty
        names = class_names(expect)
        detector = self.detector()
        if detector.classes is not None and not set(names) <= set(detector.classes):
            return empty  # this detector cannot see some asked class: no verdict
        wanted_colors = {normalize(o.color) for o in expect.objects if o.color is not None}
        colors: ColorClassifier | None = None
        if wanted_colors:
            colors = self.color_classifier()
            if not wanted_colors <= set(colors.palette):
                return empty  # a colour the classifier cannot name: no verdict

        image = item.image()
        rules = self.rules()
        groups = select(
            detector.detect(image, names),
            rules.threshold_for(expect),
            max_per_class=rules.max_per_class,
            nms_iou=rules.nms_iou,
        )
        if colors is not None:
            classify: Any = functools.partial(colors.classify, image)
            groups = classify_colors(groups, expect, classify)
        verdict = judge_selected(expect, groups, position_margin=rules.position_margin)
        return dict(verdict.row())
