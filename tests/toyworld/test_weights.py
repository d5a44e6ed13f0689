"""The shipped weights: present, small, safetensors only, and loading offline."""

from __future__ import annotations

import os

import pytest

from audit.toyworld.train import WEIGHTS

NAMES = ("toy-shapes", "toy-shapes-weak")


def test_weights_are_safetensors_within_25_mb() -> None:
    files = [p for p in WEIGHTS.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 25_000_000
    weights = [p for p in files if p.suffix in {".safetensors", ".bin", ".pt", ".pth", ".ckpt"}]
    assert weights and all(p.suffix == ".safetensors" for p in weights)
    for name in NAMES:
        assert (WEIGHTS / name / "model_index.json").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_builtin_loads_offline_through_the_diffusers_loader(name: str) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from audit.generate.builtin import resolve_builtin

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    directory = resolve_builtin(name)
    assert directory == WEIGHTS / name
    pipe = StableDiffusionPipeline.from_pretrained(
        str(directory), safety_checker=None, feature_extractor=None
    )
    pipe.set_progress_bar_config(disable=True)
    assert {pipe.unet.dtype, pipe.vae.dtype, pipe.text_encoder.dtype} == {torch.float32}
    run = dict(height=64, width=64, num_inference_steps=2, output_type="np")
    a = pipe("three red circles", generator=torch.Generator().manual_seed(1), **run).images
    b = pipe("three red circles", generator=torch.Generator().manual_seed(1), **run).images
    assert a.shape == (1, 64, 64, 3) and (a == b).all()


def test_toyclip_interface() -> None:
    import torch

    from audit.toyworld import toyclip, world

    image_enc, text_fn = toyclip.load_toyclip()
    scene = world.sample_count(__import__("numpy").random.default_rng(0), 3, "red", "circle")
    x = torch.from_numpy(world.render(scene)).permute(2, 0, 1)[None].float() / 255
    img = image_enc(x)
    txt = text_fn(["three red circles", "two red circles", "three blue circles", "the text 'AB'"])
    sims = (img @ txt.T)[0]
    assert int(sims.argmax()) == 0  # the right count and colour beat near misses
    assert image_enc.features(x).shape == (1, 256)
    assert toyclip.feature_module()(x).shape == (1, 256)
    assert image_enc(torch.nn.functional.interpolate(x, size=128)).shape == img.shape


def test_shipped_tokenizers_match_the_vocabulary_module() -> None:
    from transformers import CLIPTokenizer

    from audit.toyworld import vocab

    for sub in ("toy-shapes/tokenizer", "toy-shapes-weak/tokenizer", "toyclip/tokenizer"):
        tok = CLIPTokenizer.from_pretrained(str(WEIGHTS / sub))
        assert tok.get_vocab() == vocab.vocab()
        assert tok.model_max_length == vocab.MAX_LENGTH
