"""transformers CLIP and SigLIP models for the clip scorers: a hub id or a local directory.

`clip: {model: VALUE}` is read in this order (`hf_source`; the first rule that fits wins):

1. a name registered in the `t2i_audit.clip_models` entry-point group (e.g. ``toyclip``);
2. an existing directory, or a value starting with ``.``, ``/`` or ``~``: a transformers model
   directory (what `save_pretrained` writes: config.json naming a CLIP or SigLIP model,
   safetensors weights, the processor's files);
3. a value containing ``/`` (and not open_clip's ``hf-hub:`` prefix): a Hugging Face hub id
   such as ``openai/clip-vit-large-patch14`` (torchmetrics' default), taken from the local
   Hugging Face cache when offline; ``revision`` pins a branch, tag or commit;
4. anything else: an open_clip architecture (``ViT-L-14``) with its ``pretrained`` tag.

Images and prompts go through the model's own processor, and prompts longer than the text
model's positions are cut as torchmetrics cuts them, so per-pair scores equal torchmetrics'
CLIPScore with the same model. What a model is, for the score identity: a directory by the
digest of its files, a hub id by the commit its cached files come from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from audit.environment import hub_offline
from audit.errors import UserError
from audit.scorers.base import Requirement, package_requirement
from audit.scorers.identity import file_digest

MODEL_TYPES = ("clip", "siglip")  # config.json `model_type`s with get_{image,text}_features
WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or Path(value).expanduser().is_dir()


def looks_like_hub_id(value: str) -> bool:
    return "/" in value and not value.startswith("hf-hub:") and not looks_like_path(value)


@dataclass(frozen=True)
class HFClipSource:
    """A transformers CLIP-like model: a local directory (`path`) or a hub id (`repo`)."""

    value: str  # as the spec gave it
    revision: str | None = None
    # config.json `model_type`s this source loads, and the fix when a config has another
    model_types: ClassVar[tuple[str, ...]] = MODEL_TYPES
    model_types_fix: ClassVar[str] = (
        "give a CLIP or SigLIP model (config.json model_type clip or siglip)"
    )

    @property
    def path(self) -> Path | None:
        return Path(self.value).expanduser() if looks_like_path(self.value) else None

    # ------------------------------------------------------------ cheap checks

    def _cached(self, filename: str) -> Path | None:
        """A file of the hub model in the local Hugging Face cache (no network)."""
        from huggingface_hub import try_to_load_from_cache

        try:
            hit = try_to_load_from_cache(self.value, filename, revision=self.revision)
        except Exception:  # a malformed repo id or revision: not cached
            return None
        return Path(hit) if isinstance(hit, str) else None

    def _file(self, filename: str) -> Path | None:
        path = self.path
        if path is not None:
            return path / filename if (path / filename).is_file() else None
        return self._cached(filename)

    def config(self) -> dict[str, Any] | None:
        found = self._file("config.json")
        if found is None:
            return None
        try:
            data = json.loads(found.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # The fix for a model that is not here: what a saved directory holds, a hub id to give,
    # the files worth downloading, and how to point the option at a directory.
    saved_what: ClassVar[str] = "model and processor, safetensors weights"
    example_id: ClassVar[str] = "openai/clip-vit-large-patch14"
    download_patterns: ClassVar[tuple[str, ...]] = ("*.json", "*.txt", "*.safetensors")
    give_directory: ClassVar[str] = (
        "save it with save_pretrained and give that directory as `model: DIR`"
    )

    def fix(self) -> str:
        if self.path is not None:
            return (
                f"give a directory written by transformers' save_pretrained ({self.saved_what}), "
                f"or a hub id such as {self.example_id}"
            )
        rev = f", revision='{self.revision}'" if self.revision else ""
        patterns = ", ".join(f"'{p}'" for p in self.download_patterns)
        return (
            'download it once where the internet is reachable: python -c "from huggingface_hub '
            f"import snapshot_download; snapshot_download('{self.value}'{rev}, allow_patterns="
            f'[{patterns}])" (it lands in the Hugging Face cache), or {self.give_directory}'
        )

    def describe(self) -> str:
        """What the source is, in requirement lines."""
        if self.path is not None:
            return f"transformers model directory {self.path}"
        return f"hub model {self.value}"

    def config_problem(self, config: dict[str, Any], what: str) -> Requirement | None:
        """A config.json this source cannot use, said as a failed requirement (subclasses
        set `model_types`, or check other fields)."""
        kind = config.get("model_type")
        if kind in self.model_types:
            return None
        return Requirement(
            f"{what}: model_type {kind!r} is not one of {', '.join(self.model_types)}",
            False,
            self.model_types_fix,
        )

    def requirements(self) -> list[Requirement]:
        """transformers installed; the directory, or the hub model in the cache (online: it
        downloads on first use); a usable config.json; safetensors weights."""
        reqs = [package_requirement("transformers")]
        if not reqs[0].ok:
            return reqs
        path = self.path
        what = self.describe()
        if path is not None and not path.is_dir():
            return [*reqs, Requirement(f"{what}: not found", False, self.fix())]
        config = self.config()
        if config is None:
            if path is None and not hub_offline():
                # Online: from_pretrained will fetch it on first use.
                return [*reqs, Requirement(f"{what} (downloaded on first use)", True)]
            where = "no config.json" if path else "not in the Hugging Face cache (offline)"
            return [*reqs, Requirement(f"{what}: {where}", False, self.fix())]
        problem = self.config_problem(config, what)
        if problem is not None:
            return [*reqs, problem]
        if not any(self._file(name) for name in WEIGHTS):
            return [
                *reqs,
                Requirement(
                    f"{what}: no safetensors weights"
                    + ("" if path else " in the Hugging Face cache"),
                    False,
                    "weights load from safetensors only (no pickles): convert with "
                    "`model.save_pretrained(DIR, safe_serialization=True)`; " + self.fix(),
                ),
            ]
        return [*reqs, Requirement(f"{what} ({config.get('model_type')})", True)]

    def loads(self) -> dict[str, str]:
        """A directory by the digest of its files; a hub id by the commit of its cache."""
        path = self.path
        if path is not None:
            return {"clip_model": "transformers-dir", "weights": dir_digest(path)}
        cached = self._cached("config.json")
        # snapshots/<commit>/config.json: the commit the cached files belong to.
        revision = cached.parent.name if cached is not None else (self.revision or "main")
        return {"clip_model": self.value, "revision": revision}

    # ------------------------------------------------------------ loading

    def load(self, device: str) -> tuple[Any, Any, str]:
        """(model, processor, model_type), float32, in eval mode on `device`."""
        import torch
        from transformers import AutoModel, AutoProcessor
        from transformers.utils import logging

        # Its progress bars would interleave with ours (and print under --quiet).
        logging.disable_progress_bar()
        missing = [r for r in self.requirements() if not r.ok]
        if missing:
            raise UserError(missing[0].what, field="scorers.clip.model", fix=missing[0].fix)
        source = str(self.path) if self.path is not None else self.value
        kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": False}
        try:
            model = AutoModel.from_pretrained(
                source, dtype=torch.float32, use_safetensors=True, **kwargs
            )
            processor = AutoProcessor.from_pretrained(source, **kwargs)
        except Exception as exc:  # offline and not cached, missing processor files ...
            raise UserError(
                f"could not load CLIP model {self.value!r}: {type(exc).__name__}: {exc}",
                field="scorers.clip.model",
                fix=self.fix(),
            ) from None
        kind = str(getattr(model.config, "model_type", ""))
        if kind not in MODEL_TYPES or not hasattr(model, "get_image_features"):
            raise UserError(
                f"{self.value!r} is a {type(model).__name__}, not a CLIP or SigLIP model",
                field="scorers.clip.model",
                fix="give a CLIP or SigLIP model (config.json model_type clip or siglip)",
            )
        return model.to(device).eval(), processor, kind


def dir_digest(path: Path) -> str:
    """Digest of a model directory's files (names and contents), skipping hidden ones such as
    the `.cache/` metadata that hub downloads leave: they hold timestamps, not weights."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            h.update(rel.as_posix().encode() + b"\0" + file_digest(p).encode() + b"\0")
    return "sha256:" + h.hexdigest()


def features(output: Any) -> Any:
    """The embedding tensor: transformers 4 returns it, 5 a ModelOutput holding it."""
    return output if hasattr(output, "norm") else output.pooler_output


def unit(z: Any) -> Any:
    return z / z.norm(dim=-1, keepdim=True)


def image_tower(model: Any) -> Any:
    """The model's projected image embedding as a torch module (pixel_values -> [n, d])."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return features(self.model.get_image_features(pixel_values=pixel_values))

    return ImageTower()


def text_encoder(
    model: Any, processor: Any, kind: str, device: str
) -> Callable[[Sequence[str]], Any]:
    """texts -> embeddings, tokenised as torchmetrics' CLIPScore does for CLIP (padding to
    the longest, then cutting at the text model's positions) and as SigLIP was trained
    (padding to its fixed length)."""
    limit = getattr(getattr(model.config, "text_config", None), "max_position_embeddings", None)

    def encode(texts: Sequence[str]) -> Any:
        if kind == "siglip":
            tokens = processor(
                text=list(texts), padding="max_length", truncation=True, return_tensors="pt"
            )
        else:
            tokens = processor(text=list(texts), padding=True, return_tensors="pt")
        ids = tokens["input_ids"]
        mask = tokens.get("attention_mask")
        if limit is not None and ids.shape[-1] > limit:
            ids = ids[..., :limit]
            mask = mask[..., :limit] if mask is not None else None
        out = model.get_text_features(
            input_ids=ids.to(device), attention_mask=mask.to(device) if mask is not None else None
        )
        return features(out)

    return encode


def image_inputs(processor: Any) -> Callable[[Sequence[Any]], Any]:
    """PIL images -> the processor's pixel_values (its resize, crop and normalisation)."""

    def to_input(images: Sequence[Any]) -> Any:
        rgb = [img.convert("RGB") for img in images]
        return processor(images=rgb, return_tensors="pt")["pixel_values"]

    return to_input


def clean_geometry(model: Any, processor: Any) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(input size, mean, std) for `resize: clean`: the vision tower's size and the
    processor's normalisation."""
    size = int(model.config.vision_config.image_size)
    ip = processor.image_processor
    return size, tuple(ip.image_mean), tuple(ip.image_std)
