"""DINOv2 (transformers' `Dinov2Model`) as a feature extractor: kind ``dinov2``.

The features are what dgm-eval (Stein et al., 2023, "Exposing flaws of generative model
evaluation metrics"; layer6ai-labs/dgm-eval ``dgm_eval/models/dinov2.py``) takes: the class
token after the final layer norm (the torch hub model's ``forward``, transformers'
``pooler_output``), of images at 224 x 224 normalised with ImageNet's mean and std.

* ``resize: native`` — dgm-eval's default transform: PIL bicubic from the 8-bit image straight
  to 224 x 224 (``TF.Resize((224, 224))``: no crop, a non-square image is squashed), ``/ 255``,
  then ``Normalize``.
* ``resize: clean`` — clean-fid's float resize of the centred square (dgm-eval's
  ``clean_resize=True`` for square images).

Set scores computed on these features are named for them — ``fd_dinov2``, ``kid_dinov2_mean``,
``cmmd_dinov2`` — never FID, which means Inception features.

The model is a hub id (default ``facebook/dinov2-large``, the ViT-L/14 dgm-eval defaults to;
``-small``, ``-base``, ``-giant`` too), from the Hugging Face cache when offline, or a local
directory written by ``save_pretrained``; `extractor_options: {model: ID, revision: REV,
image_size: 224}` choose them (the spec's `model` is used when it is a hub id or a path).
Weights load from safetensors only, never remote code. transformers interpolates the position
embeddings to 224 px by size, where the torch hub model dgm-eval loads uses a scale factor
with a 0.1 offset: features can differ in the last digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.environment import pick_device
from audit.errors import UserError
from audit.scorers.base import Requirement
from audit.scorers.clip_hf import (
    HFClipSource,
    looks_like_hub_id,
    looks_like_path,
)
from audit.scorers.features import ExtractorSpec, PilBicubic, TorchExtractor, from_module

DEFAULT_MODEL = "facebook/dinov2-large"
MODEL_TYPES = ("dinov2", "dinov2_with_registers")
IMAGE_SIZE = 224  # dgm-eval's input size
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Dinov2Source(HFClipSource):
    """A transformers DINOv2 model: a hub id or a local `save_pretrained` directory."""

    model_types = MODEL_TYPES
    model_types_fix = "give a DINOv2 model (config.json model_type dinov2)"
    saved_what = "config.json and safetensors weights of a Dinov2Model"
    example_id = DEFAULT_MODEL
    download_patterns = ("*.json", "*.safetensors")
    give_directory = (
        "give a directory saved with save_pretrained as `extractor_options: {model: DIR}`"
    )

    def describe(self) -> str:
        return f"DINOv2 directory {self.path}" if self.path else f"DINOv2 hub model {self.value}"

    def load_model(self, device: str) -> Any:
        """The Dinov2Model, float32, in eval mode on `device`."""
        import torch
        from transformers import AutoModel
        from transformers.utils import logging

        logging.disable_progress_bar()
        lacking = [r for r in self.requirements() if not r.ok]
        if lacking:
            raise UserError(lacking[0].what, field="extractor_options.model", fix=lacking[0].fix)
        source = str(self.path) if self.path is not None else self.value
        try:
            model = AutoModel.from_pretrained(
                source,
                dtype=torch.float32,
                use_safetensors=True,
                revision=self.revision,
                trust_remote_code=False,
            )
        except Exception as exc:
            raise UserError(
                f"could not load DINOv2 model {self.value!r}: {type(exc).__name__}: {exc}",
                field="extractor_options.model",
                fix=self.fix(),
            ) from None
        if getattr(model.config, "model_type", None) not in MODEL_TYPES:
            raise UserError(
                f"{self.value!r} is a {type(model).__name__}, not a DINOv2 model",
                field="extractor_options.model",
                fix="give a DINOv2 model (config.json model_type dinov2)",
            )
        return model.to(device).eval()


def dinov2_source(spec: ExtractorSpec) -> Dinov2Source:
    """`options.model`, else the spec's `model` when it is a hub id or a path, else
    `facebook/dinov2-large`; `options.revision` pins a hub id."""
    value = spec.options.get("model")
    if value is None:
        fits = looks_like_hub_id(spec.model) or looks_like_path(spec.model)
        value = spec.model if fits else DEFAULT_MODEL
    revision = spec.options.get("revision")
    return Dinov2Source(str(value), str(revision) if revision else None)


def dinov2_identity(source: Dinov2Source) -> str:
    if source.path is not None:
        return f"dinov2:transformers-dir/{Path(source.path).name}"
    return f"dinov2:{source.value}" + (f"@{source.revision}" if source.revision else "")


class Dinov2Extractor:
    """Extractor factory for kind `dinov2` (registered in `audit.scorers.features`)."""

    def __call__(self, spec: ExtractorSpec) -> TorchExtractor:
        source = dinov2_source(spec)
        device = pick_device(spec.device)
        model = source.load_model(device)
        size = int(spec.options.get("image_size", IMAGE_SIZE))

        import torch

        class ClsToken(torch.nn.Module):
            """The class token after the final layer norm."""

            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: Any) -> Any:
                return self.model(pixel_values=x).pooler_output

        return from_module(
            ClsToken(),
            dinov2_identity(source),
            input_size=size,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            resize=spec.resize,
            preprocess=PilBicubic(size, IMAGENET_MEAN, IMAGENET_STD, crop=False),
            device=device,
            batch_size=spec.batch_size,
        )

    def loads(self, spec: ExtractorSpec) -> dict[str, str]:
        """A directory by its files' digest, a hub id by its cached commit (no loading)."""
        source = dinov2_source(spec)
        named = source.loads()
        return {
            "extractor_model": dinov2_identity(source),
            **{k.replace("clip_model", "model"): v for k, v in named.items()},
            "image_size": str(spec.options.get("image_size", IMAGE_SIZE)),
        }

    def requirements(self, spec: ExtractorSpec) -> list[Requirement]:
        return dinov2_source(spec).requirements()


dinov2_extractor = Dinov2Extractor()
