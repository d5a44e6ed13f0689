"""The diffusers backend: batch invariance, samplers, embedding reuse, failure flags."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from audit.config import ModelSpec, RuntimeSpec
from audit.generate.diffusers_backend import DiffusersGenerator, to_png
from audit.generate.request import GenerationRequest
from audit.generate.samplers import SAMPLERS

TINY = ModelSpec(id="tiny", source="builtin:tiny-random-sd")


def request(prompt: str, seed: int, sampler: str = "ddim", steps: int = 3) -> GenerationRequest:
    return GenerationRequest(
        model_id="tiny", model_source=TINY.source, model_fingerprint="x", dtype="float32",
        sampler=sampler, steps=steps, guidance=5.0, width=64, height=64, seed=seed,
        suite="t", prompt_id=f"p{abs(hash(prompt)) % 1000}", prompt=prompt, negative_prompt="",
    )  # fmt: skip


@pytest.fixture(scope="module")
def generator() -> DiffusersGenerator:
    return DiffusersGenerator(TINY, RuntimeSpec(device="cpu"))


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def assert_same_image(a: bytes, b: bytes) -> None:
    pa, pb = pixels(a), pixels(b)
    diff = np.abs(pa - pb)
    assert diff.max() <= 2, f"pixels differ by up to {diff.max()} levels"
    assert (diff > 0).mean() <= 0.005


def test_image_does_not_depend_on_batch_size(generator: DiffusersGenerator) -> None:
    reqs = [request(p, s) for p in ("a red cube", "two dogs") for s in (0, 1)]
    batched = generator.generate(reqs)
    single = [generator.generate([r])[0] for r in reqs]
    for b, s in zip(batched, single, strict=True):
        assert b.request.key == s.request.key
        assert_same_image(b.png, s.png)
    # ... while different seeds really do give different images.
    assert np.abs(pixels(batched[0].png) - pixels(batched[1].png)).mean() > 1


def test_embedding_reuse_matches_plain_prompts() -> None:
    reuse = DiffusersGenerator(TINY, RuntimeSpec(device="cpu", reuse_text_embeddings=True))
    plain = DiffusersGenerator(TINY, RuntimeSpec(device="cpu", reuse_text_embeddings=False))
    assert reuse.reuse_embeddings and not plain.reuse_embeddings
    reqs = [request("a blue ball", 3), request("a sign that says 'HI'", 4)]
    for a, b in zip(reuse.generate(reqs), plain.generate(reqs), strict=True):
        assert_same_image(a.png, b.png)
    assert len(reuse._embeds) == 2
    reuse.generate(reqs)
    assert len(reuse._embeds) == 2  # computed once per (prompt, negative)


@pytest.mark.parametrize("name", [n for n, s in SAMPLERS.items() if s.family == "eps"])
def test_every_eps_sampler_runs(generator: DiffusersGenerator, name: str) -> None:
    out = generator.generate([request("a cat", 0, sampler=name, steps=4)])[0]
    assert type(generator.pipe.scheduler).__name__ == SAMPLERS[name].scheduler
    for flag, value in SAMPLERS[name].config.items():
        assert generator.pipe.scheduler.config[flag] == value
    assert pixels(out.png).shape == (64, 64, 3)
    assert out.seconds > 0 and out.peak_mem_mb > 0


def test_records_nan_and_black() -> None:
    png, bad = to_png(np.zeros((8, 8, 3), dtype=np.float32))
    assert bad
    nan = np.full((8, 8, 3), 0.5, dtype=np.float32)
    nan[0, 0, 0] = np.nan
    assert to_png(nan)[1]
    assert not to_png(np.full((8, 8, 3), 0.5, dtype=np.float32))[1]
