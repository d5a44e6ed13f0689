"""`treering`: is a generation-time Tree-Ring key in this image? (`audit.generate.treering`)

Each image is inverted back to its initial noise by DDIM with a diffusion model (by default
the model that made it, named by its request row; loaded through the generation code path),
and the key's Fourier values are looked for there: a p-value (the probability that unmarked
noise lies as close to the key), the reference's L1 distance, and `treering_detected` at
p < `fpr`. The key settings must be those of the run's `provenance.watermark`.

Whether that nominal `fpr` holds is measured, not assumed: `t2i-audit bench treering`
generates marked and unmarked images in one run and reports the detection rate at the
threshold that gives the false positive rate on the unmarked ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from audit.config import DType, TreeRingKeySpec
from audit.scorers.attacks import attack_image, validate_attack_names
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.robustness import (
    PIXEL_FAMILIES,
    Judgement,
    curve_metrics,
    curve_row,
    validate_families,
)


class TreeRingOptions(TreeRingKeySpec, ScorerOptions):
    model_config = ConfigDict(extra="forbid", frozen=False)

    model: str | None = Field(
        default=None,
        description="model source to invert with; default: each image's own (its request)",
    )
    dtype: DType | None = None  # default: the image's request dtype, else float32
    inversion_steps: int = Field(default=50, ge=1, le=1000)
    fpr: float = Field(default=0.01, gt=0.0, lt=1.0, description="nominal false positive rate")
    attacks: list[str] = Field(default_factory=list, description="also score after these")
    curves: list[str] = Field(
        default_factory=list,
        description="pixel attack families for robustness curves `trc_*` (true: all of them)",
    )
    device: str = "auto"
    batch_size: int = Field(default=8, ge=1)

    @field_validator("attacks")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return validate_attack_names(v)

    @field_validator("curves", mode="before")
    @classmethod
    def _pixel_families(cls, v: object) -> object:
        # `curves: true` means every pixel family; regeneration attacks are not offered.
        if v is True or v is False or v is None:
            return list(PIXEL_FAMILIES) if v else []
        families = validate_families(v) if isinstance(v, list) else v
        if isinstance(families, list) and set(families) - set(PIXEL_FAMILIES):
            raise ValueError(
                f"treering curves take pixel families only: {', '.join(PIXEL_FAMILIES)}"
            )
        return families


class TreeRingScorer(ImageScorer[TreeRingOptions]):
    """P-value and decision for a Tree-Ring key, by DDIM inversion with the same model."""

    name = "treering"
    by_default = False  # its key options must match the spec's, and it inverts every image
    version = "1"

    def __init__(self, options: TreeRingOptions | None = None) -> None:
        super().__init__(options)
        self.batch_size = self.options.batch_size
        self._pipes: dict[tuple[str, str], Any] = {}

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [
            package_requirement("torch"),
            package_requirement("diffusers"),
            package_requirement("scipy"),
        ]

    def loads(self) -> dict[str, str]:
        if self.options.model is None:
            return {}  # each image's own model, which its key already identifies
        from audit.generate.models import fingerprint

        return {"model": fingerprint(self.options.model)}

    def key(self) -> Any:
        from audit.generate.treering import TreeRingKey

        return TreeRingKey.from_spec(self.options)

    def metrics(self) -> list[Metric]:
        o = self.options
        what = f"Tree-Ring key seed {o.key_seed}, radius {o.radius}, channel {o.channel}"
        out = []
        for suffix, after in [("", "")] + [(f"_{a}", f" after attack '{a}'") for a in o.attacks]:
            out += [
                Metric(
                    f"treering_p_value{suffix}",
                    "lower",
                    "continuous",
                    f"p-value that unmarked noise is as close to the {what}{after} "
                    f"(DDIM inversion, {o.inversion_steps} steps)",
                ),
                Metric(
                    f"treering_detected{suffix}",
                    "higher",
                    "binary",
                    f"{what} detected{after}: p < {o.fpr:g}",
                ),
            ]
        out.append(
            Metric(
                "treering_distance",
                "lower",
                "continuous",
                f"mean |FFT - key| over the masked Fourier values of the inverted noise ({what})",
            )
        )
        return out + curve_metrics("trc", o.curves, bits=False)

    def _pipe(self, source: str, dtype: str, model_id: str) -> Any:
        from audit.config import ModelSpec, RuntimeSpec
        from audit.generate.diffusers_backend import DiffusersGenerator

        cache = (source, dtype)
        if cache not in self._pipes:
            spec = ModelSpec(id=model_id, source=source, dtype=dtype)  # type: ignore[arg-type]
            runtime = RuntimeSpec(device="auto", reuse_text_embeddings=False)
            self._pipes[cache] = DiffusersGenerator(spec, runtime, device=self.options.device).pipe
        return self._pipes[cache]

    def _inverter(self, item: ScoreItem) -> tuple[str, str, str] | None:
        source = self.options.model or item.request.get("source")
        if not source or str(source).startswith("ingest:"):
            return None  # an ingested image with no model to invert with: not applicable
        dtype = self.options.dtype or item.request.get("dtype") or "float32"
        return str(source), str(dtype), str(item.request.get("model") or "treering-model")

    def _judge(self, pipe: Any, images: list[Any], model_id: str) -> list[tuple[float, float]]:
        from audit.generate import treering

        key = self.key()
        out = []
        inverted = treering.invert(pipe, images, self.options.inversion_steps)
        for img, latents in zip(images, inverted, strict=True):
            shape = treering.latent_shape(pipe, *img.size)
            key.check_shape(shape, model_id, "scorers.treering")
            out.append((treering.p_value(latents, key), treering.distance(latents, key)))
        return out

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        names = [m.name for m in self.metrics()]
        rows: list[dict[str, Value]] = [dict.fromkeys(names) for _ in items]
        groups: dict[tuple[str, str, str], list[int]] = {}
        for i, item in enumerate(items):
            inverter = self._inverter(item)
            if inverter is not None:
                groups.setdefault(inverter, []).append(i)
        for (source, dtype, model_id), index in groups.items():
            pipe = self._pipe(source, dtype, model_id)
            # One inversion batch per image size (a batch of tensors must share a shape).
            by_size: dict[tuple[int, int], list[int]] = {}
            for i in index:
                by_size.setdefault(items[i].image().size, []).append(i)
            for same in by_size.values():
                clean = [items[i].image() for i in same]
                for i, (p, d) in zip(same, self._judge(pipe, clean, model_id), strict=True):
                    rows[i].update(
                        treering_p_value=p,
                        treering_detected=float(p < self.options.fpr),
                        treering_distance=d,
                    )
                for attack in self.options.attacks:
                    hit = [attack_image(attack, items[i].image(), items[i].key) for i in same]
                    for i, (p, _) in zip(same, self._judge(pipe, hit, model_id), strict=True):
                        rows[i][f"treering_p_value_{attack}"] = p
                        rows[i][f"treering_detected_{attack}"] = float(p < self.options.fpr)
                for i in same if self.options.curves else []:
                    rows[i].update(self._curve(pipe, items[i], model_id))
        return rows

    def _curve(self, pipe: Any, item: ScoreItem, model_id: str) -> dict[str, Value]:
        """Detection at each strength of each family (`audit.scorers.robustness`)."""

        def judge(img: Any) -> Judgement:
            ((p, _),) = self._judge(pipe, [img], model_id)
            return Judgement(detected=float(p < self.options.fpr), score=p)

        return curve_row(
            item.image(), item.key, judge, self.options.curves, prefix="trc", bits=False
        )
