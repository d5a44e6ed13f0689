"""The diffusers backend: one pipeline per model, scheduler swapped per cell.

Each image gets its own CPU `torch.Generator` seeded from its request, so an image does not
depend on the batch it was made in or on the worker that made it.
"""

from __future__ import annotations

import io
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.config import ModelSpec, RuntimeSpec
from audit.environment import pick_device
from audit.generate.models import resolve_source
from audit.generate.request import GenerationRequest
from audit.generate.samplers import get_sampler, make_scheduler

BLACK_LEVEL = 1.0 / 255.0  # an image whose brightest pixel is below this counts as black


@dataclass
class GeneratedImage:
    request: GenerationRequest
    png: bytes
    seconds: float  # the batch's wall time shared out equally
    peak_mem_mb: float
    nan_or_black: bool
    safety_flag: bool | None


def to_png(image: np.ndarray) -> tuple[bytes, bool]:
    """float HxWx3 in [0,1] -> PNG bytes, and whether it was NaN or all black."""
    from PIL import Image

    bad = bool(np.isnan(image).any()) or float(np.nanmax(image)) < BLACK_LEVEL
    pixels = (np.nan_to_num(image, nan=0.0).clip(0, 1) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue(), bad


def peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return float(torch.cuda.max_memory_allocated()) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


class DiffusersGenerator:
    """Generates the images of one model. Create once per model; call per batch."""

    def __init__(
        self, model: ModelSpec, runtime: RuntimeSpec, base_dir: Any = None, device: str = "auto"
    ) -> None:
        import torch
        from diffusers import DiffusionPipeline
        from diffusers.utils import logging as dlogging
        from transformers.utils import logging as tlogging

        # Library progress bars would interleave with ours (and print under --quiet).
        for lib in (dlogging, tlogging):
            lib.disable_progress_bar()
            lib.set_verbosity_error()
        self.model = model
        self.runtime = runtime
        self.device = pick_device(device if device != "auto" else runtime.device)
        path = resolve_source(model.source, base_dir, self.device)
        self.pipe = DiffusionPipeline.from_pretrained(
            path,
            dtype=getattr(torch, model.dtype),
            use_safetensors=True,  # never unpickle weights
            revision=model.revision,
        )
        self.pipe.set_progress_bar_config(disable=True)
        if runtime.cpu_offload and self.device.startswith("cuda"):
            self.pipe.enable_model_cpu_offload()
        else:
            self.pipe.to(self.device)
        if runtime.attention_slicing:
            self.pipe.enable_attention_slicing()
        if runtime.vae_tiling and hasattr(self.pipe, "vae"):
            self.pipe.vae.enable_tiling()
        if runtime.channels_last and hasattr(self.pipe, "unet"):
            self.pipe.unet.to(memory_format=torch.channels_last)
        if runtime.compile and hasattr(self.pipe, "unet"):
            self.pipe.unet = torch.compile(self.pipe.unet)
        self.base_scheduler_config = self.pipe.scheduler.config
        self._sampler: str | None = None
        self._embeds: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.reuse_embeddings = runtime.reuse_text_embeddings and self._embedding_style() != ""

    def _embedding_style(self) -> str:
        """Which encode_prompt contract this pipeline has: "sd", "sdxl", or "" (not reusable)."""
        from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

        if isinstance(self.pipe, StableDiffusionXLPipeline):
            return "sdxl"
        if isinstance(self.pipe, StableDiffusionPipeline):
            return "sd"
        return ""

    def set_sampler(self, name: str) -> None:
        if name != self._sampler:
            self.pipe.scheduler = make_scheduler(get_sampler(name), self.base_scheduler_config)
            self._sampler = name

    def _encode(self, prompt: str, negative: str) -> tuple[Any, ...]:
        """Text embeddings for one (prompt, negative), computed once and reused across cells."""
        import torch

        cache_key = (prompt, negative)
        if cache_key not in self._embeds:
            neg = negative or None  # "" means no negative prompt, as in the pipelines' default
            with torch.no_grad():
                if self._embedding_style() == "sdxl":
                    out = self.pipe.encode_prompt(
                        prompt=prompt,
                        device=self.pipe._execution_device,
                        num_images_per_prompt=1,
                        do_classifier_free_guidance=True,
                        negative_prompt=neg,
                    )
                else:
                    out = self.pipe.encode_prompt(
                        prompt, self.pipe._execution_device, 1, True, negative_prompt=neg
                    )
            self._embeds[cache_key] = tuple(out)
        return self._embeds[cache_key]

    def _text_inputs(self, batch: Sequence[GenerationRequest]) -> dict[str, Any]:
        import torch

        if not self.reuse_embeddings:
            negatives = [r.negative_prompt for r in batch]
            return {
                "prompt": [r.prompt for r in batch],
                "negative_prompt": negatives if any(negatives) else None,
            }
        parts = [self._encode(r.prompt, r.negative_prompt) for r in batch]
        names = ["prompt_embeds", "negative_prompt_embeds"]
        if self._embedding_style() == "sdxl":
            names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
        return {n: torch.cat([p[i] for p in parts]) for i, n in enumerate(names)}

    def _noise_inputs(self, batch: Sequence[GenerationRequest]) -> dict[str, Any]:
        """Per-image CPU generators seeded from each request, or, when a request carries a
        watermark, the initial latents themselves: the same seeded noise with its key
        injected (`audit.generate.treering`)."""
        import torch

        if not any(r.watermark for r in batch):
            return {"generator": [torch.Generator("cpu").manual_seed(r.seed) for r in batch]}
        from audit.generate.treering import TreeRingKey, initial_latents, latent_shape

        first = batch[0]
        shape = latent_shape(self.pipe, first.width, first.height)
        keys = [TreeRingKey.from_canonical(r.watermark) if r.watermark else None for r in batch]
        for key in {k for k in keys if k is not None}:
            key.check_shape(shape, self.model.id, "provenance.watermark")
        dtype = self.pipe.unet.dtype
        return {"latents": initial_latents(shape, [r.seed for r in batch], keys, dtype)}

    def generate(self, batch: Sequence[GenerationRequest]) -> list[GeneratedImage]:
        """One pipeline call for requests of one cell (same sampler, steps, guidance, size)."""
        import torch

        first = batch[0]
        assert all(r.cell == first.cell for r in batch), "a batch must come from one cell"
        self.set_sampler(first.sampler)
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = self.pipe(
            **self._text_inputs(batch),
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            width=first.width,
            height=first.height,
            output_type="np",
            **self._noise_inputs(batch),
        )
        seconds = (time.perf_counter() - start) / len(batch)
        peak = peak_memory_mb(self.device)
        flags = getattr(out, "nsfw_content_detected", None)
        results = []
        for i, (req, image) in enumerate(zip(batch, out.images, strict=True)):
            png, bad = to_png(np.asarray(image, dtype=np.float32))
            flag = None if flags is None or flags[i] is None else bool(flags[i])
            results.append(GeneratedImage(req, png, seconds, peak, bad, flag))
        return results
