"""CLIP alignment between each image and its prompt (open_clip or transformers models).

``clip_cosine`` is the cosine of the image and text embeddings; ``clip_score`` is
``100 * max(cosine, 0)``, torchmetrics' CLIPScore for one image-caption pair. Raw cosines of
good Stable Diffusion outputs with ViT-L/14 are about 0.26-0.35. The set scorer ``clip_set``
reports what torchmetrics' CLIPScore gives for a whole cell, ``clip_score_set`` =
``100 * max(mean cosine, 0)`` (not the mean of the clamped per-image scores: the two differ
when some cosines are negative).

`model` names an open_clip architecture, a transformers CLIP / SigLIP model (hub id such as
``openai/clip-vit-large-patch14``, or a local directory), or a registered CLIP model; see
clip_hf.py for how a value is recognised. Images go through the model's own preprocessing by
default (``resize: native``), as torchmetrics and published CLIP scores do. A ready model can
be injected with `ClipScorer.from_components` (tiny test models) or `from_encoders`; a package
may register a CLIP-like model under a name (`NamedClipModel`, entry-point group
``t2i_audit.clip_models``) that `model: NAME` then selects.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from audit.environment import pick_device
from audit.registry import Registry
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    SetScorer,
    Value,
    package_requirement,
)
from audit.scorers.clip_hf import HFClipSource, looks_like_hub_id, looks_like_path
from audit.scorers.features import ResizeMode, clip_identity, clip_weights_requirement
from audit.scorers.identity import file_digest, tree_digest

_TEXT_CACHE = 4096  # prompts' text embeddings kept (many seeds share one prompt)
HF_ALTERNATIVE = (
    "give a transformers CLIP model instead: `model: openai/clip-vit-large-patch14` "
    "(torchmetrics' default, from the Hugging Face cache) or `model: DIR` (a directory "
    "saved with save_pretrained)"
)


@dataclass(frozen=True)
class NamedClipModel:
    """A CLIP-like model a package registers under a name, so `clip: {model: NAME}` selects it
    instead of an open_clip architecture (entry-point group `t2i_audit.clip_models`).

    `load()` returns (image encoder, texts -> embeddings); the image encoder receives
    ``(x / 255 - mean) / std`` images [n, 3, input_size, input_size] (clean-resized).
    """

    weights: Path  # its files: they must exist (check) and their digest is its identity
    load: Callable[[], tuple[Any, Callable[[Sequence[str]], Any]]]
    input_size: int
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    fix: str = "reinstall the package that provides this model"

    def present(self) -> bool:
        if self.weights.is_dir():
            return any(self.weights.glob("*.safetensors"))
        return self.weights.is_file()

    def digest(self) -> str:
        return tree_digest(self.weights) if self.weights.is_dir() else file_digest(self.weights)


CLIP_MODELS: Registry[NamedClipModel] = Registry(
    "CLIP model",
    group="t2i_audit.clip_models",
    base=NamedClipModel,
    instances=True,
    field="scorers.clip.model",
)


class ClipOptions(ScorerOptions):
    # `weights` is named by its digest in `loads()`: moving the file changes no number.
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {"weights"}

    # An open_clip architecture, a transformers hub id or directory, or a registered name.
    model: str = "ViT-L-14"
    pretrained: str = "openai"  # open_clip's pretrained tag (open_clip architectures only)
    revision: str | None = None  # branch, tag or commit of a hub id model
    weights: Path | None = None  # a local open_clip checkpoint file
    batch_size: int = Field(default=16, ge=1)
    resize: ResizeMode = "native"
    device: str | None = None

    @model_validator(mode="after")
    def _options_fit_the_model(self) -> ClipOptions:
        if self.weights is not None and (self.weights.expanduser() / "config.json").is_file():
            raise ValueError(
                "`weights` takes an open_clip checkpoint file; for a transformers model "
                f"directory write `model: {self.weights}` instead"
            )
        hf = looks_like_path(self.model) or looks_like_hub_id(self.model)
        if self.weights is not None and hf:
            raise ValueError(
                f"`weights` applies to open_clip architectures, not to {self.model!r} (a "
                "transformers model carries its own weights): drop `weights`"
            )
        if self.revision is not None and not looks_like_hub_id(self.model):
            raise ValueError(
                f"`revision` pins a hub model (org/name), and {self.model!r} is not one: drop "
                "`revision`, or give the hub id as `model`"
            )
        return self


def hf_source(options: ClipOptions) -> HFClipSource | None:
    """The transformers model `options.model` names, or None (registered name, open_clip)."""
    if options.model in CLIP_MODELS:
        return None
    if looks_like_path(options.model) or looks_like_hub_id(options.model):
        return HFClipSource(options.model, options.revision)
    return None


def clip_score_from_cosine(cosine: float) -> float:
    """torchmetrics' CLIPScore for one pair: 100 * max(cos, 0)."""
    return 100.0 * max(cosine, 0.0)


class ClipScorer(ImageScorer[ClipOptions]):
    name = "clip"
    version = "1"
    offline = False  # weights are not shipped: a cache or a `weights` path is needed

    def __init__(self, options: ClipOptions | None = None) -> None:
        super().__init__(options)
        # The runner batches by this; the extractor inside batches by the same number.
        self.batch_size = self.options.batch_size
        self._images: Any = None  # extractor: PIL images -> unit image embeddings
        self._encode_texts: Callable[[list[str]], Any] | None = None  # texts -> embeddings
        self._text_cache: OrderedDict[str, Any] = OrderedDict()
        o = self.options
        self._hf = hf_source(o)
        if o.model in CLIP_MODELS or self._hf is not None:
            self.model_identity = o.model
        else:
            self.model_identity = clip_identity(o.model, o.pretrained)

    @classmethod
    def from_components(
        cls,
        model: Any,
        preprocess: Callable[[Any], Any],
        tokenizer: Callable[..., Any],
        *,
        name: str,
        options: ClipOptions | None = None,
    ) -> ClipScorer:
        """A scorer around a ready open_clip-like model (`encode_image`, `encode_text`), its
        image preprocess (PIL -> [3, H, W] tensor) and tokenizer (list of str -> tokens)."""
        from audit.scorers.features import clip_image_extractor

        scorer = cls(options or ClipOptions(resize="native"))
        scorer.model_identity = name
        device = pick_device(scorer.options.device)
        model = model.to(device).eval()
        scorer._images = clip_image_extractor(
            model,
            name,
            resize=scorer.options.resize,
            preprocess=preprocess,
            device=device,
            batch_size=scorer.options.batch_size,
            normalize=True,
        )
        scorer._encode_texts = lambda texts: model.encode_text(tokenizer(texts).to(device))
        return scorer

    @classmethod
    def from_encoders(
        cls,
        image_encoder: Any,
        encode_texts: Callable[[list[str]], Any],
        *,
        name: str,
        input_size: int,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        options: ClipOptions | None = None,
    ) -> ClipScorer:
        """A scorer from two encoders (e.g. a registered `NamedClipModel`): `image_encoder`
        maps ``(x / 255 - mean) / std`` images [n, 3, input_size, input_size] (clean-resized)
        to embeddings; `encode_texts` maps a list of prompts to embeddings."""
        from audit.scorers.features import from_module

        scorer = cls(options or ClipOptions(resize="clean"))
        scorer.model_identity = name
        scorer._images = _Normalized(
            from_module(
                image_encoder,
                name,
                input_size=input_size,
                mean=mean,
                std=std,
                device=scorer.options.device,
                batch_size=scorer.options.batch_size,
            )
        )
        scorer._encode_texts = encode_texts
        return scorer

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        opts = options if isinstance(options, ClipOptions) else ClipOptions()
        if opts.model in CLIP_MODELS:
            named = CLIP_MODELS.get(opts.model)
            return [
                Requirement(f"the weights of CLIP model '{opts.model}'", named.present(), named.fix)
            ]
        hf = hf_source(opts)
        if hf is not None:
            return hf.requirements()
        reqs = [package_requirement("open_clip", "open-clip-torch")]
        if reqs[0].ok:
            weights = clip_weights_requirement(opts.model, opts.pretrained, opts.weights)
            if not weights.ok:  # a transformers model the user already has will do too
                weights = replace(weights, fix=f"{weights.fix}; or {HF_ALTERNATIVE}")
            reqs.append(weights)
        return reqs

    def loads(self) -> dict[str, str]:
        o = self.options
        if o.model in CLIP_MODELS:
            return {"clip_model": o.model, "weights": CLIP_MODELS.get(o.model).digest()}
        if self._hf is not None:
            return self._hf.loads()
        if o.weights is not None and o.weights.expanduser().is_file():
            return {"clip_model": o.model, "weights": file_digest(o.weights.expanduser())}
        return {"clip_model": o.model, "pretrained": o.pretrained}

    def metrics(self) -> list[Metric]:
        return [
            Metric("clip_score", "higher", description="100 * max(cos(image, prompt), 0)"),
            Metric("clip_cosine", "higher", description="cosine of CLIP image and text embeddings"),
        ]

    # ------------------------------------------------------------ model

    def _load(self) -> None:
        if self._images is not None:
            return
        from audit.scorers.features import load_open_clip

        o = self.options
        if o.model in CLIP_MODELS:
            named = CLIP_MODELS.get(o.model)
            image_module, encode_texts = named.load()
            loaded = self.from_encoders(
                image_module,
                encode_texts,
                name=o.model,
                input_size=named.input_size,
                mean=named.mean,
                std=named.std,
                options=o,
            )
        elif self._hf is not None:
            loaded = self._load_hf(self._hf)
        else:
            model, preprocess, tokenizer = load_open_clip(
                o.model, o.pretrained, o.weights, pick_device(o.device)
            )
            loaded = self.from_components(
                model, preprocess, tokenizer, name=self.model_identity, options=o
            )
        self._images, self._encode_texts = loaded._images, loaded._encode_texts

    def _load_hf(self, source: HFClipSource) -> ClipScorer:
        from audit.scorers import clip_hf
        from audit.scorers.features import TorchExtractor

        o, device = self.options, pick_device(self.options.device)
        model, processor, kind = source.load(device)
        encode_texts = clip_hf.text_encoder(model, processor, kind, device)
        tower = clip_hf.image_tower(model)
        if o.resize == "clean":
            size, mean, std = clip_hf.clean_geometry(model, processor)
            return self.from_encoders(
                tower,
                encode_texts,
                name=o.model,
                input_size=size,
                mean=mean,
                std=std,
                options=o,
            )
        self._images = TorchExtractor(
            name=o.model,
            resize="native",
            to_input=clip_hf.image_inputs(processor),  # the model's own processor
            forward=lambda x: clip_hf.unit(tower(x)),
            device=device,
            batch_size=o.batch_size,
        )
        self._encode_texts = encode_texts
        return self

    def _text_embeddings(self, texts: Sequence[str]) -> Any:
        """Unit text embeddings [n, d] (float64, CPU), cached per distinct prompt."""
        import torch

        from audit.scorers.features import full_float32

        todo = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if todo:
            assert self._encode_texts is not None
            with torch.inference_mode(), full_float32():
                z = self._encode_texts(todo)
                z = (z / z.norm(dim=-1, keepdim=True)).to("cpu", torch.float64)
            for text, row in zip(todo, z, strict=True):
                self._text_cache[text] = row
        out = torch.stack([self._text_cache[t] for t in texts])
        while len(self._text_cache) > _TEXT_CACHE:  # evict only after use
            self._text_cache.popitem(last=False)
        return out

    def cosines(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Cosine between each image and its text."""
        import torch

        self._load()
        img = torch.from_numpy(self._images(images))  # unit rows, float64
        txt = self._text_embeddings(texts)
        return [float(c) for c in (img * txt).sum(dim=-1)]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        cos = self.cosines([it.image() for it in items], [it.prompt_text for it in items])
        return [{"clip_score": clip_score_from_cosine(c), "clip_cosine": c} for c in cos]


class ClipSetOptions(ClipOptions):
    bootstrap: int = Field(default=1000, ge=0)  # resamples of the cell's images (0 = no CI)
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0


class ClipSetScorer(SetScorer[ClipSetOptions]):
    """torchmetrics' CLIPScore over a whole cell: 100 * max(mean cosine, 0).

    It keeps one float per image (the cosines), never the embeddings, and draws a percentile
    bootstrap interval from them. The model and its options are the `clip` scorer's.
    """

    name = "clip_set"
    version = "1"
    offline = False

    def __init__(self, options: ClipSetOptions | None = None) -> None:
        super().__init__(options)
        self._pairs = ClipScorer(self.options)
        self._cosines: list[float] = []

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return ClipScorer.check(options if isinstance(options, ClipOptions) else None)

    def loads(self) -> dict[str, str]:
        return self._pairs.loads()

    def metrics(self) -> list[Metric]:
        level = f"{self.options.ci_level:.0%}"
        return [
            Metric(
                "clip_score_set",
                "higher",
                description="torchmetrics' CLIPScore of the set: 100 * max(mean cosine, 0)",
            ),
            Metric("clip_score_set_ci_low", "none", description=f"{level} bootstrap bound"),
            Metric("clip_score_set_ci_high", "none", description=f"{level} bootstrap bound"),
        ]

    def label(self) -> str:
        return f"{self.name}/{self.version}: model {self._pairs.model_identity}"

    def reset(self) -> None:
        self._cosines = []

    def update(self, items: Sequence[ScoreItem]) -> None:
        images = [it.image() for it in items]
        self._cosines += self._pairs.cosines(images, [it.prompt_text for it in items])

    def compute(self) -> dict[str, Value]:
        return set_clip_score(
            self._cosines, self.options.bootstrap, self.options.ci_level, self.options.seed
        )


def set_clip_score(
    cosines: Sequence[float], bootstrap: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, Value]:
    """`clip_score_set` and its percentile-bootstrap bounds from the cell's cosines."""
    import numpy as np

    out: dict[str, Value] = dict.fromkeys(
        ("clip_score_set", "clip_score_set_ci_low", "clip_score_set_ci_high")
    )
    cos = np.asarray(cosines, dtype=np.float64)
    if cos.size == 0:
        return out
    out["clip_score_set"] = clip_score_from_cosine(float(cos.mean()))
    if bootstrap > 0 and cos.size >= 2:
        rng = np.random.default_rng(seed)
        means = np.empty(bootstrap)
        for b in range(bootstrap):  # a loop: memory stays one resample, whatever the cell
            means[b] = cos[rng.integers(0, cos.size, cos.size)].mean()
        scores = 100.0 * np.maximum(means, 0.0)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(scores, [tail, 1.0 - tail])
        out["clip_score_set_ci_low"], out["clip_score_set_ci_high"] = float(low), float(high)
    return out


class _Normalized:
    """An extractor whose rows are scaled to unit length (cosines)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dim, self.resize = inner.name, inner.dim, inner.resize

    def __call__(self, images: Sequence[Any]) -> Any:
        import numpy as np

        z = self.inner(images)
        return z / np.linalg.norm(z, axis=1, keepdims=True)
