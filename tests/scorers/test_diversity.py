"""DiversityScorer: embedding (tiny random CLIP) and MS-SSIM fallback paths."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from audit.scorers.base import ScoreItem, missing
from audit.scorers.diversity import DiversityOptions, DiversityScorer
from audit.scorers.features import clip_image_extractor

torch.set_num_threads(1)


def _tiny_clip_extractor() -> Any:
    from open_clip.model import CLIP

    torch.manual_seed(2)
    model = CLIP(
        embed_dim=32,
        vision_cfg={"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        text_cfg={"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    ).eval()
    return clip_image_extractor(model, "clip:tiny/random", resize="clean", device="cpu")


def _image(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)


def _items(images: list[Image.Image], prompt_id: str = "p0") -> list[ScoreItem]:
    out = []
    for i, img in enumerate(images):
        item = ScoreItem(f"{prompt_id}-{i}", Path(f"/none/{i}.png"), "text", prompt_id, None)
        item._image = img
        out.append(item)
    return out


def test_embedding_diversity_zero_for_identical_and_matches_pairwise_mean() -> None:
    extractor = _tiny_clip_extractor()
    scorer = DiversityScorer.from_extractor(extractor, "clip")
    assert [m.name for m in scorer.metrics()] == ["diversity_clip"]
    assert scorer.group_by == "cell_prompt"

    same = [_image(1)] * 4
    scorer.update(_items(same))
    value = scorer.compute()["diversity_clip"]
    assert isinstance(value, float) and abs(value) < 1e-9

    images = [_image(s) for s in range(5)]
    scorer.reset()
    scorer.update(_items(images[:2]))
    scorer.update(_items(images[2:]))  # streaming across updates
    ours = scorer.compute()["diversity_clip"]
    z = extractor(images)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    pairs = [1 - z[i] @ z[j] for i, j in itertools.combinations(range(5), 2)]
    print(f"diversity_clip ours={ours!r} brute force={np.mean(pairs)!r}")
    assert isinstance(ours, float) and ours > 0
    assert ours == pytest.approx(float(np.mean(pairs)), rel=1e-6)  # float32 batching noise


def test_prompts_are_kept_apart() -> None:
    scorer = DiversityScorer.from_extractor(_tiny_clip_extractor(), "clip")
    scorer.update(_items([_image(1)] * 3, "same") + _items([_image(2), _image(3)], "diff"))
    per = scorer.per_prompt()
    assert per["same"] == pytest.approx(0, abs=1e-9) and per["diff"] > 0
    assert scorer.compute()["diversity_clip"] == pytest.approx(per["diff"] / 2)


def test_msssim_fallback_zero_for_identical_positive_for_different() -> None:
    scorer = DiversityScorer(DiversityOptions(extractor="msssim"))
    assert [m.name for m in scorer.metrics()] == ["diversity_msssim"]
    assert "MS-SSIM at 256 px" in scorer.label()
    scorer.update(_items([_image(4)] * 3))  # 64 px images: resized up for MS-SSIM
    same = scorer.compute()["diversity_msssim"]
    assert isinstance(same, float) and abs(same) < 1e-6
    scorer.reset()
    scorer.update(_items([_image(4), _image(5), _image(6)]))
    different = scorer.compute()["diversity_msssim"]
    print(f"diversity_msssim identical={same!r} different={different!r}")
    assert isinstance(different, float) and different > 0.05


def test_msssim_matches_torchmetrics_pairwise() -> None:
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    images = [_image(7), _image(8)]
    scorer = DiversityScorer(DiversityOptions(extractor="msssim", msssim_size=192))
    scorer.update(_items(images))
    ours = scorer.compute()["diversity_msssim"]
    x = [
        torch.from_numpy(np.array(im.resize((192, 192), Image.Resampling.BICUBIC)))
        .permute(2, 0, 1)[None]
        .float()
        / 255
        for im in images
    ]
    ref = float(multiscale_structural_similarity_index_measure(x[0], x[1], data_range=1.0))
    assert ours == pytest.approx(1 - ref, abs=1e-6)


def test_one_image_gives_no_number_and_cap_on_kept_images() -> None:
    scorer = DiversityScorer(DiversityOptions(extractor="msssim", max_images_per_prompt=2))
    scorer.update(_items([_image(1)]))
    assert scorer.compute() == {"diversity_msssim": None}
    scorer.reset()
    scorer.update(_items([_image(1), _image(1), _image(9)]))  # the third is beyond the cap
    assert scorer.compute()["diversity_msssim"] == pytest.approx(0, abs=1e-6)


def test_auto_falls_back_offline_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HOME", str(tmp_path))
    auto = DiversityScorer(DiversityOptions())
    assert auto.kind == "msssim" and auto.metrics()[0].name == "diversity_msssim"
    assert not missing(DiversityScorer.check(DiversityOptions()))
    # Asking for CLIP explicitly is not silently replaced: check() reports the weights.
    lacking = missing(DiversityScorer.check(DiversityOptions(extractor="clip")))
    assert lacking and "weights" in lacking[0].fix
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    assert DiversityScorer(DiversityOptions(weights=weights)).kind == "clip"
