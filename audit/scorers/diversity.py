"""Diversity across seeds: the mean pairwise distance between the images of one prompt.

Grouped per (cell, prompt): the images of one prompt under one setting, one per seed.

* ``diversity_clip`` (or ``diversity_<kind>`` for a custom extractor): mean over pairs of
  1 - cosine between image embeddings. Streaming: with unit vectors u_i and S = sum u_i,
  sum over pairs i != j of u_i.u_j = |S|^2 - sum |u_i|^2, so a prompt needs only S and a
  count, whatever the number of seeds.
* ``diversity_msssim`` — the offline fallback when no CLIP weights are available: mean over
  pairs of 1 - MS-SSIM (torchmetrics, 5 scales, 11 px Gaussian window). MS-SSIM needs images
  larger than 160 px at these settings, so every image is first resized to `msssim_size`
  (256 px, PIL bicubic; 64 px toy images are upsampled). It needs the images themselves:
  at most `max_images_per_prompt` are kept per prompt (later seeds are ignored).

``extractor: auto`` uses CLIP when its weights are cached or given, else the fallback; the
metric name always says which was used, so numbers of the two kinds never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from audit.environment import installed_versions
from audit.scorers.base import (
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    SetScorer,
    Value,
    missing,
    package_requirement,
)
from audit.scorers.features import (
    ExtractorSpec,
    ResizeMode,
    clip_weights_requirement,
    extractor_loads,
)
from audit.vocab import SetGrouping


class DiversityOptions(ScorerOptions):
    # `weights` is named by its digest in `loads()`: moving the file changes no number.
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {"weights"}

    extractor: str = "auto"  # auto | clip | msssim | a registered extractor kind
    model: str = "ViT-L-14"
    pretrained: str = "openai"
    weights: Path | None = None
    resize: ResizeMode = "native"
    batch_size: int = Field(default=32, ge=1)
    device: str | None = None
    msssim_size: int = Field(default=256, ge=176)
    max_images_per_prompt: int = Field(default=32, ge=2)
    extractor_options: dict[str, Any] = Field(default_factory=dict)


def _clip_available(opts: DiversityOptions) -> bool:
    reqs = [package_requirement("open_clip", "open-clip-torch")]
    if reqs[0].ok:
        reqs.append(clip_weights_requirement(opts.model, opts.pretrained, opts.weights))
    return not missing(reqs)


def resolve_kind(opts: DiversityOptions) -> str:
    if opts.extractor != "auto":
        return opts.extractor
    return "clip" if _clip_available(opts) else "msssim"


class DiversityScorer(SetScorer[DiversityOptions]):
    name = "diversity"
    version = "1"
    offline = True
    group_by: ClassVar[SetGrouping] = "cell_prompt"  # one value per (cell, prompt)

    def __init__(self, options: DiversityOptions | None = None) -> None:
        super().__init__(options)
        self.kind = resolve_kind(self.options)
        self._extractor: Any = None
        self.reset()

    @classmethod
    def from_extractor(cls, extractor: Any, kind: str) -> DiversityScorer:
        """A scorer around a ready extractor (tests, the toy CLIP); metric diversity_<kind>."""
        scorer = cls(DiversityOptions(extractor=kind))
        scorer._extractor = extractor
        return scorer

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        from audit.scorers.features import extractor_kinds

        opts = options if isinstance(options, DiversityOptions) else DiversityOptions()
        kind = resolve_kind(opts)
        if kind == "msssim":
            return [package_requirement("torchmetrics")]
        if kind == "clip":
            reqs = [package_requirement("open_clip", "open-clip-torch")]
            if reqs[0].ok:
                reqs.append(clip_weights_requirement(opts.model, opts.pretrained, opts.weights))
            return reqs
        known = extractor_kinds()
        return [
            Requirement(
                f"feature extractor '{kind}'",
                ok=kind in known,
                fix=f"use auto, msssim or one of: {', '.join(known)}",
            )
        ]

    def metrics(self) -> list[Metric]:
        what = "1 - MS-SSIM at 256 px" if self.kind == "msssim" else f"1 - cosine of {self.kind} "
        return [
            Metric(
                f"diversity_{self.kind}",
                "higher",
                description=f"mean pairwise distance across seeds ({what.strip()})",
            )
        ]

    def extractor_spec(self) -> ExtractorSpec:
        o = self.options
        return ExtractorSpec(
            kind=self.kind,
            resize=o.resize,
            weights=str(o.weights) if o.weights else None,
            model=o.model,
            pretrained=o.pretrained,
            device=o.device,
            batch_size=o.batch_size,
            options=dict(o.extractor_options),
        )

    def loads(self) -> dict[str, str]:
        """The extractor's weights, or for MS-SSIM the torchmetrics that computes it."""
        if self.kind == "msssim":
            return {"extractor": "msssim", **installed_versions(["torchmetrics"])}
        return extractor_loads(self.extractor_spec())

    def label(self) -> str:
        if self.kind == "msssim":
            return f"{self.name}/{self.version}: 1 - MS-SSIM at {self.options.msssim_size} px"
        o = self.options
        ext = f"clip:{o.model}/{o.pretrained}" if self.kind == "clip" else self.kind
        return f"{self.name}/{self.version}: 1 - cosine, extractor {ext}, resize {o.resize}"

    # ------------------------------------------------------------ streaming

    def reset(self) -> None:
        self._sums: dict[str, Any] = {}  # prompt -> [sum of unit vectors, sum |u|^2, count]
        self._images: dict[str, list[Any]] = {}  # prompt -> resized image tensors (msssim)

    def _embed(self, images: Sequence[Any]) -> Any:
        import numpy as np

        if self._extractor is None:
            from audit.scorers.features import make_extractor

            self._extractor = make_extractor(self.extractor_spec())
        z = np.asarray(self._extractor(images), dtype=np.float64)
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def update(self, items: Sequence[ScoreItem]) -> None:
        if self.kind == "msssim":
            self._update_msssim(items)
            return
        z = self._embed([it.image() for it in items])
        for it, u in zip(items, z, strict=True):
            acc = self._sums.setdefault(it.prompt_id, [0.0, 0.0, 0])
            acc[0] = acc[0] + u
            acc[1] += float(u @ u)
            acc[2] += 1

    def _update_msssim(self, items: Sequence[ScoreItem]) -> None:
        import numpy as np
        import torch
        from PIL import Image as PILImage

        size = self.options.msssim_size
        for it in items:
            kept = self._images.setdefault(it.prompt_id, [])
            if len(kept) >= self.options.max_images_per_prompt:
                continue
            img = it.image().convert("RGB").resize((size, size), PILImage.Resampling.BICUBIC)
            kept.append(torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()))

    def per_prompt(self) -> dict[str, float]:
        """Diversity of each prompt seen since `reset` (prompts with at least 2 images)."""
        out: dict[str, float] = {}
        for prompt, (total, sq, n) in self._sums.items():
            if n >= 2:
                pair_sum = float(total @ total) - sq  # sum over i != j of u_i . u_j
                out[prompt] = 1.0 - pair_sum / (n * (n - 1))
        for prompt, images in self._images.items():
            if len(images) >= 2:
                out[prompt] = _mean_pairwise_msssim_distance(images)
        return out

    def compute(self) -> dict[str, Value]:
        values = list(self.per_prompt().values())
        metric = f"diversity_{self.kind}"
        return {metric: (sum(values) / len(values)) if values else None}


def _mean_pairwise_msssim_distance(images: list[Any], chunk: int = 16) -> float:
    """Mean over unordered pairs of 1 - MS-SSIM; images are [H, W, 3] uint8 tensors."""
    import torch
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    x = torch.stack(images).permute(0, 3, 1, 2).float() / 255.0
    i_idx, j_idx = torch.triu_indices(len(images), len(images), offset=1)
    scores = []
    for start in range(0, len(i_idx), chunk):
        a, b = i_idx[start : start + chunk], j_idx[start : start + chunk]
        s = multiscale_structural_similarity_index_measure(
            x[a], x[b], data_range=1.0, reduction="none"
        )
        scores.append(s.reshape(-1))
    return float(1.0 - torch.cat(scores).double().mean())
