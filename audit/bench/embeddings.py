"""Text-embedding reuse on against off, on one pipeline, in alternating rounds.

A sweep repeats each prompt across seeds and cells; with reuse on, the harness encodes each
(prompt, negative) once and passes the embeddings in; with it off, every pipeline call encodes
its prompts again. Both sides make the same images (checked: the largest pixel difference
between the two sides is reported).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from audit.bench.generate import _requests, _sync
from audit.config import ModelSpec, RuntimeSpec


@dataclass
class EmbeddingBench:
    model: str
    device: str
    size: int
    batch_size: int
    steps: int
    images: int
    on_ips: float
    off_ips: float
    round_ratios: list[float]
    max_pixel_diff: int  # between the two sides' images of the same requests

    @property
    def ratio(self) -> float:
        """Median over rounds of (off seconds / on seconds)."""
        ordered = sorted(self.round_ratios)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench_embeddings(
    source: str = "builtin:tiny-random-sd",
    *,
    size: int = 64,
    batch_size: int = 4,
    steps: int = 10,
    rounds: int = 4,
    images_per_round: int = 8,
    device: str = "cpu",
) -> EmbeddingBench:
    import numpy as np
    from PIL import Image

    from audit.generate.diffusers_backend import DiffusersGenerator

    model = ModelSpec.model_validate({"id": "bench", "source": source})
    gen = DiffusersGenerator(model, RuntimeSpec(reuse_text_embeddings=True), None, device)
    if not gen.reuse_embeddings:
        raise ValueError(f"{source} has no reusable text embeddings (not an SD/SDXL pipeline)")
    warm = _requests(source, "float32", size, steps, batch_size, 10_000)
    for flag in (True, False):
        gen.reuse_embeddings = flag
        gen.generate(warm)
    on_s = off_s = 0.0
    ratios: list[float] = []
    worst = 0
    for r in range(rounds):
        # Each prompt comes back with other seeds, as in a sweep.
        reqs = _requests(source, "float32", size, steps, images_per_round, r * images_per_round)
        pngs: dict[bool, list[bytes]] = {}
        seconds: dict[bool, float] = {}
        for flag in (True, False) if r % 2 == 0 else (False, True):
            gen.reuse_embeddings = flag
            _sync(gen.device)
            start = time.perf_counter()
            out = []
            for i in range(0, len(reqs), batch_size):
                out += [res.png for res in gen.generate(reqs[i : i + batch_size])]
            _sync(gen.device)
            seconds[flag] = time.perf_counter() - start
            pngs[flag] = out
        on_s += seconds[True]
        off_s += seconds[False]
        ratios.append(seconds[False] / seconds[True])
        for a, b in zip(pngs[True], pngs[False], strict=True):
            pa = np.asarray(Image.open(io.BytesIO(a)), dtype=np.int16)
            pb = np.asarray(Image.open(io.BytesIO(b)), dtype=np.int16)
            worst = max(worst, int(np.abs(pa - pb).max()))
    n = rounds * images_per_round
    return EmbeddingBench(
        source, gen.device, size, batch_size, steps, n, n / on_s, n / off_s, ratios, worst
    )
