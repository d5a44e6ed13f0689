"""CLIP alignment between each image and its prompt (open_clip).

``clip_cosine`` is the cosine of the image and text embeddings; ``clip_score`` is
``100 * max(cosine, 0)``, torchmetrics' CLIPScore for one image-caption pair. Raw cosines of
good Stable Diffusion outputs with ViT-L/14 are about 0.26-0.35.

Images go through the model's own preprocessing by default (``resize: native``), as
torchmetrics and published CLIP scores do. A ready model can be injected with
`ClipScorer.from_components` (tiny test models) or `from_encoders`; a package may register a
CLIP-like model under a name (`NamedClipModel`, entry-point group ``t2i_audit.clip_models``)
that `model: NAME` then selects.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from audit.environment import pick_device
from audit.registry import Registry
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.features import ResizeMode, clip_identity, clip_weights_requirement
from audit.scorers.identity import file_digest, tree_digest

_TEXT_CACHE = 4096  # prompts' text embeddings kept (many seeds share one prompt)


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

    model: str = "ViT-L-14"  # an open_clip architecture, or a registered CLIP model's name
    pretrained: str = "openai"
    weights: Path | None = None
    batch_size: int = Field(default=16, ge=1)
    resize: ResizeMode = "native"
    device: str | None = None


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
        self.model_identity = (
            o.model if o.model in CLIP_MODELS else clip_identity(o.model, o.pretrained)
        )

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
        reqs = [package_requirement("open_clip", "open-clip-torch")]
        if reqs[0].ok:
            reqs.append(clip_weights_requirement(opts.model, opts.pretrained, opts.weights))
        return reqs

    def loads(self) -> dict[str, str]:
        o = self.options
        if o.model in CLIP_MODELS:
            return {"clip_model": o.model, "weights": CLIP_MODELS.get(o.model).digest()}
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
        else:
            model, preprocess, tokenizer = load_open_clip(
                o.model, o.pretrained, o.weights, pick_device(o.device)
            )
            loaded = self.from_components(
                model, preprocess, tokenizer, name=self.model_identity, options=o
            )
        self._images, self._encode_texts = loaded._images, loaded._encode_texts

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


class _Normalized:
    """An extractor whose rows are scaled to unit length (cosines)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dim, self.resize = inner.name, inner.dim, inner.resize

    def __call__(self, images: Sequence[Any]) -> Any:
        import numpy as np

        z = self.inner(images)
        return z / np.linalg.norm(z, axis=1, keepdims=True)
