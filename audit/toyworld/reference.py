"""The reference world as a built-in FID-style reference (`reference: builtin:toyworld`).

Procedural images stand in for "real" images: they are exactly what the toy model was
trained to draw. The statistics are built once, with the toy CLIP extractor (kind `toyclip`),
into the cache. Both are registered in `audit.toyworld.plugin`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from audit.scorers.identity import tree_digest
from audit.toyworld import toyclip

REFERENCE_NAME = "toyworld-v1"  # bump the version when the recipe below changes
REFERENCE_IMAGES = 1000
REFERENCE_SEED = 20261127  # differs from the training seeds: held-out procedural samples


class ToyClipExtractor:
    """Extractor factory for kind `toyclip`: the toy CLIP's 256-d image features."""

    def __call__(self, spec: Any) -> Any:
        from audit.scorers.features import from_module

        return from_module(
            toyclip.feature_module(),
            "toyclip",
            input_size=64,
            resize=spec.resize,
            preprocess=_native_preprocess,
            device=spec.device,
            batch_size=spec.batch_size,
        )

    def loads(self, spec: Any) -> dict[str, str]:
        """The toy CLIP weights' digest: part of the identity of scores made with them."""
        return {"extractor_weights": tree_digest(toyclip.WEIGHTS)}


toyclip_extractor = ToyClipExtractor()


def _native_preprocess(image: Any) -> Any:
    """`resize: native` for the toy CLIP: what it was trained on, 64 px RGB in [0, 1]
    (bilinear from uint8; the toy model draws at 64 px, so this is mostly the identity)."""
    import numpy as np
    import torch
    from PIL import Image

    if image.size != (64, 64):
        image = image.resize((64, 64), Image.Resampling.BILINEAR)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def build_toyworld_reference() -> Path:
    """Folder of the toy-world reference, built on first use (about 10 s on 2 CPU cores)."""
    from audit.generate.builtin import cache_root
    from audit.scorers.reference import build_reference

    root = cache_root()
    # The toy CLIP's digest in the folder name: retrained weights get fresh statistics.
    name = f"{REFERENCE_NAME}-{tree_digest(toyclip.WEIGHTS).removeprefix('sha256:')[:12]}"
    target = root / "references" / name
    if (target / "meta.json").is_file():
        return target
    import numpy as np
    from PIL import Image

    from audit.toyworld.world import render, sample_scene

    rng = np.random.default_rng(REFERENCE_SEED)
    with tempfile.TemporaryDirectory(prefix="toyworld-ref-") as tmp:
        for i in range(REFERENCE_IMAGES):
            Image.fromarray(render(sample_scene(rng))).save(Path(tmp) / f"{i:04d}.png")
        build_reference(
            Path(tmp),
            name,
            root,
            {"kind": "toyclip", "resize": "clean"},
            progress=False,
            overwrite=True,
        )
    return target
