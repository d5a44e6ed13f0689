"""The reference world as a built-in FID-style reference (`reference: builtin:toyworld`).

Procedural images stand in for "real" images: they are exactly what the toy model was
trained to draw. The statistics are built once, with the toy CLIP extractor, into the cache.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

REFERENCE_NAME = "toyworld-v1"
REFERENCE_IMAGES = 1000
REFERENCE_SEED = 20261127  # differs from the training seeds: held-out procedural samples


def toyclip_extractor(spec: Any) -> Any:
    """Extractor factory for kind `toyclip`: the toy CLIP's 256-d image features."""
    from audit.scorers.features import from_module
    from audit.toyworld.toyclip import feature_module

    return from_module(
        feature_module(),
        "toyclip",
        input_size=64,
        resize=spec.resize,
        device=spec.device,
        batch_size=spec.batch_size,
    )


def builtin_reference(name: str) -> Path:
    """Folder of a built-in reference, built on first use (about 10 s on 2 CPU cores)."""
    from audit.errors import UserError
    from audit.generate.builtin import cache_root
    from audit.scorers.reference import build_reference

    if name != "toyworld":
        raise UserError(
            f"unknown built-in reference 'builtin:{name}'",
            field="reference",
            fix="use builtin:toyworld, or a reference made by `t2i-audit reference build`",
        )
    root = cache_root()
    target = root / "references" / REFERENCE_NAME
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
            REFERENCE_NAME,
            root,
            {"kind": "toyclip", "resize": "clean"},
            progress=False,
            overwrite=True,
        )
    return target
