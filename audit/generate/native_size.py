"""Each model's native resolution, and the image size a sweep asks of it.

diffusers pipelines default to ``sample_size * vae_scale_factor`` (the UNet's, or the
transformer's, ``sample_size``; ``vae_scale_factor = 2 ** (len(vae.block_out_channels) - 1)``,
8 without a VAE). A spec without `size` / `width` / `height` uses exactly that per model, so
SDXL is audited at 1024 px and the 64 px toy model at 64 px. Everything here reads the
models' config files only: no weights are loaded and no model is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.config import SweepSpec
from audit.errors import UserError

FAR = 1.5  # a size off its model's native one by more than this factor, either way, is noted
DENOISERS = ("unet", "transformer")  # where diffusers pipelines keep `sample_size`

Size = tuple[int, int]  # (width, height)


def native_from_configs(read: Callable[[str], dict[str, Any] | None]) -> Size | None:
    """The native (width, height) from a pipeline's configs; `read("unet/config.json")`
    returns a parsed config or None. None when no denoiser declares a `sample_size`."""
    sample = None
    for folder in DENOISERS:
        config = read(f"{folder}/config.json")
        if config is not None and config.get("sample_size") is not None:
            sample = config["sample_size"]
            break
    if sample is None:
        return None
    vae = read("vae/config.json")
    blocks = (vae or {}).get("block_out_channels")
    scale = 2 ** (len(blocks) - 1) if blocks else 8
    # An int is square; a list is [height, width], as diffusers reads it.
    height, width = (sample, sample) if isinstance(sample, int) else (sample[0], sample[1])
    return int(width) * scale, int(height) * scale


def native_of_dir(path: Path) -> Size | None:
    def read(rel: str) -> dict[str, Any] | None:
        f = path / rel
        try:
            data = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    return native_from_configs(read)


def native_of_hub(repo: str, revision: str | None) -> Size | None:
    """From the Hugging Face cache, else a download of the configs (when online)."""

    def read(rel: str) -> dict[str, Any] | None:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        try:
            hit = try_to_load_from_cache(repo, rel, revision=revision)
            path = hit if isinstance(hit, str) else hf_hub_download(repo, rel, revision=revision)
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except Exception:  # offline, unknown repo, a file it does not have ...
            return None
        return data if isinstance(data, dict) else None

    return native_from_configs(read)


@dataclass(frozen=True)
class ModelSize:
    """The size one model generates at in a sweep, beside its native one."""

    model_id: str
    source: str
    width: int
    height: int
    native: Size | None  # None: not known (the spec then gave the size)

    @property
    def factor(self) -> float | None:
        """How far the size is from native: the largest ratio either way (1.0 = native)."""
        if self.native is None:
            return None
        nw, nh = self.native
        return max(self.width / nw, nw / self.width, self.height / nh, nh / self.height)

    def note(self) -> str | None:
        """A line for the run's notes when the size is far from native; else None."""
        factor = self.factor
        if factor is None or factor <= FAR:
            return None
        assert self.native is not None
        nw, nh = self.native
        way = "smaller" if self.width * self.height < nw * nh else "larger"
        return (
            f"model '{self.model_id}' ({self.source}) generates at {self.width}x{self.height}, "
            f"{factor:.1f}x {way} than its native {nw}x{nh}: models are usually worse far from "
            "the resolution they were trained at; drop `size` to use each model's native size"
        )


def model_sizes(
    spec: SweepSpec, native: Mapping[str, Size | None], spec_file: str | Path = "<spec>"
) -> dict[str, ModelSize]:
    """The size each model generates at: the spec's, or else the model's native one.
    `native` maps model id -> native (width, height), None where it is not known."""
    out = {}
    for i, model in enumerate(spec.models):
        known = native.get(model.id)
        size = spec.explicit_size or known
        if size is None:
            raise UserError(
                f"the native resolution of model '{model.id}' ({model.source}) is unknown: "
                f"its configs declare no sample_size (looked in {', '.join(DENOISERS)}/)",
                file=spec_file,
                field=f"models.{i}.source",
                fix="give the image size in the spec: `size: 1024` or `width:` and `height:`",
            )
        out[model.id] = ModelSize(model.id, model.source, size[0], size[1], known)
    return out
