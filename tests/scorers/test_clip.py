"""ClipScorer with tiny random open_clip models built from config dicts (no downloads)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from audit.scorers.base import ScoreItem, missing
from audit.scorers.clip import ClipOptions, ClipScorer, clip_score_from_cosine

torch.set_num_threads(1)

TINY_CFG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
PROMPTS = ["a red cube", "two blue spheres", "a green dog on a sofa", "the word 'open'"]


def tiny_clip(seed: int = 0) -> tuple[Any, Any, Any]:
    import open_clip
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    model = CLIP(**TINY_CFG).eval()
    return model, open_clip.image_transform(32, is_train=False), open_clip.get_tokenizer("ViT-B-32")


def _images(n: int, seed: int = 0, size: int = 64) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)
    ]


def _items(images: list[Image.Image], texts: list[str]) -> list[ScoreItem]:
    items = []
    for i, (img, text) in enumerate(zip(images, texts, strict=True)):
        item = ScoreItem(f"k{i}", Path(f"/nonexistent/{i}.png"), text, f"p{i}", None)
        item._image = img
        items.append(item)
    return items


def _direct_cosines(model: Any, preprocess: Any, tokenizer: Any, images: list, texts: list) -> Any:
    with torch.no_grad():
        zi = model.encode_image(torch.stack([preprocess(im) for im in images]))
        zt = model.encode_text(tokenizer(texts))
    zi = zi / zi.norm(dim=-1, keepdim=True)
    zt = zt / zt.norm(dim=-1, keepdim=True)
    return (zi * zt).sum(-1).double()


def test_formula_is_torchmetrics_clipscore() -> None:
    """torchmetrics' own clip_score code, fed the same model through its callable hook."""
    from torchmetrics.functional.multimodal import clip_score

    model, preprocess, tokenizer = tiny_clip(seed=2)  # a seed whose cosines take both signs

    class HFLike:
        config = SimpleNamespace()  # no text_config: torchmetrics skips its truncation

        def to(self, _device: Any) -> HFLike:
            return self

        def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return model.encode_image(pixel_values)

        def get_text_features(self, input_ids: torch.Tensor, _mask: torch.Tensor) -> torch.Tensor:
            return model.encode_text(input_ids)

    def processor(images: Any = None, text: Any = None, **_: Any) -> dict[str, torch.Tensor]:
        if images is not None:
            pil = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
            return {"pixel_values": torch.stack([preprocess(p) for p in pil])}
        tokens = tokenizer(text)
        return {"input_ids": tokens, "attention_mask": (tokens != 0).long()}

    images = _images(8, seed=1)
    texts = (PROMPTS * 2)[:8]
    scorer = ClipScorer.from_components(
        model, preprocess, tokenizer, name="tiny", options=ClipOptions(device="cpu")
    )
    ours = scorer.score_batch(_items(images, texts))
    signs = set()
    for img, text, row in zip(images, texts, ours, strict=True):
        tensor = torch.from_numpy(np.array(img)).permute(2, 0, 1)
        with torch.no_grad():
            theirs = float(
                clip_score(tensor, text, model_name_or_path=lambda: (HFLike(), processor))
            )
        assert row["clip_score"] == pytest.approx(theirs, abs=1e-4)
        assert row["clip_score"] == pytest.approx(clip_score_from_cosine(row["clip_cosine"]))  # type: ignore[arg-type]
        signs.add(row["clip_cosine"] > 0)  # type: ignore[operator]
    print(f"cosines: {[round(r['clip_cosine'], 4) for r in ours]}")  # type: ignore[arg-type]
    assert clip_score_from_cosine(-0.3) == 0.0 and clip_score_from_cosine(0.3) == 30.0
    assert signs == {True, False}  # both sides of max(., 0) were exercised


def test_scorer_equals_direct_computation_and_keeps_speed() -> None:
    model, preprocess, tokenizer = tiny_clip()
    scorer = ClipScorer.from_components(
        model, preprocess, tokenizer, name="tiny", options=ClipOptions(batch_size=16, device="cpu")
    )
    assert scorer.metrics()[0].name == "clip_score"
    images = _images(64, seed=2)
    texts = [PROMPTS[i % 4] for i in range(64)]
    scorer.score_batch(_items(images[:2], texts[:2]))  # warm-up both paths
    _direct_cosines(model, preprocess, tokenizer, images[:2], texts[:2])

    start = time.perf_counter()
    rows = []
    for i in range(0, 64, 16):
        rows += scorer.score_batch(_items(images[i : i + 16], texts[i : i + 16]))
    t_scorer = time.perf_counter() - start
    start = time.perf_counter()
    direct = torch.cat(
        [
            _direct_cosines(model, preprocess, tokenizer, images[i : i + 16], texts[i : i + 16])
            for i in range(0, 64, 16)
        ]
    )
    t_direct = time.perf_counter() - start
    ours = torch.tensor([r["clip_cosine"] for r in rows], dtype=torch.float64)
    print(
        f"images/s: scorer {64 / t_scorer:.0f}, direct {64 / t_direct:.0f}, "
        f"ratio {t_direct / t_scorer:.2f}; max |diff| {float((ours - direct).abs().max()):.1e}"
    )
    torch.testing.assert_close(ours, direct, rtol=0, atol=1e-6)
    assert t_direct / t_scorer > 0.3  # the scorer adds no large overhead


def test_clean_resize_option_changes_only_preprocessing() -> None:
    model, preprocess, tokenizer = tiny_clip()
    images, texts = _images(4, seed=3, size=32), PROMPTS
    native = ClipScorer.from_components(
        model, preprocess, tokenizer, name="t", options=ClipOptions(device="cpu")
    )
    clean = ClipScorer.from_components(
        model, preprocess, tokenizer, name="t", options=ClipOptions(device="cpu", resize="clean")
    )
    a = [r["clip_cosine"] for r in native.score_batch(_items(images, texts))]
    b = [r["clip_cosine"] for r in clean.score_batch(_items(images, texts))]
    # 32 px images at a 32 px model: both preprocessings are the identity resize.
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_loads_local_weights_through_open_clip(tmp_path: Path) -> None:
    import open_clip

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    (cfg_dir / "TinyCLIP-audit-test.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg_dir)
    model, preprocess, tokenizer = tiny_clip(seed=5)
    weights = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), weights)

    opts = ClipOptions(model="TinyCLIP-audit-test", pretrained="random", weights=weights)
    assert not missing(ClipScorer.check(opts))
    loaded = ClipScorer(opts.model_copy(update={"device": "cpu"}))
    assert loaded.model_identity == "clip:TinyCLIP-audit-test/random"
    # The file is named by its digest: a copy elsewhere is the same score identity.
    copy = tmp_path / "copy.pt"
    copy.write_bytes(weights.read_bytes())
    moved = ClipScorer(opts.model_copy(update={"weights": copy}))
    assert loaded.loads() == moved.loads() and loaded.loads()["weights"].startswith("sha256:")
    injected = ClipScorer.from_components(
        model, preprocess, tokenizer, name="x", options=ClipOptions(device="cpu")
    )
    items = _items(_images(3, seed=6), PROMPTS[:3])
    a = [r["clip_cosine"] for r in loaded.score_batch(items)]
    b = [r["clip_cosine"] for r in injected.score_batch(items)]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_check_without_weights_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HOME", str(tmp_path))
    lacking = missing(ClipScorer.check(ClipOptions()))
    assert len(lacking) == 1 and "ViT-L-14/openai" in lacking[0].what
    assert "weights: PATH" in lacking[0].fix and "open_clip.create_model" in lacking[0].fix
    assert missing(ClipScorer.check(ClipOptions(weights=tmp_path / "absent.safetensors")))

    # A file in the Hugging Face cache where open_clip looks for ViT-L-14/openai.
    repo = tmp_path / "hub" / "models--timm--vit_large_patch14_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "open_clip_model.safetensors").write_bytes(b"x")
    assert not missing(ClipScorer.check(ClipOptions()))


def test_from_encoders_matches_from_components() -> None:
    """The two-encoder entry point (used by the toy CLIP) computes the same cosines."""
    from audit.scorers.features import CLIP_MEAN, CLIP_STD

    model, preprocess, tokenizer = tiny_clip()

    class ImageEncoder(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return model.encode_image(x)

    items = _items(_images(4, seed=7, size=48), PROMPTS)
    via_encoders = ClipScorer.from_encoders(
        ImageEncoder(),
        lambda texts: model.encode_text(tokenizer(texts)),
        name="tiny",
        input_size=32,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        options=ClipOptions(device="cpu", resize="clean"),
    )
    via_components = ClipScorer.from_components(
        model, preprocess, tokenizer, name="tiny", options=ClipOptions(device="cpu", resize="clean")
    )
    a = [r["clip_cosine"] for r in via_encoders.score_batch(items)]
    b = [r["clip_cosine"] for r in via_components.score_batch(items)]
    np.testing.assert_allclose(a, b, atol=1e-6)
