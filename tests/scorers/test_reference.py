"""Reference statistics: build, load, identity checks, image formats and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from audit.errors import UserError
from audit.scorers.features import (
    ExtractorSpec,
    extractor_kinds,
    from_module,
    make_extractor,
    register_extractor,
)
from audit.scorers.frechet import GaussianStats
from audit.scorers.reference import build_reference, load_reference

torch.set_num_threads(1)


def _tiny(spec: ExtractorSpec) -> Any:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2)
    )
    return from_module(
        torch.nn.Sequential(net, torch.nn.Flatten()),
        "tinyref:v1",
        input_size=16,
        resize=spec.resize,
        preprocess=lambda im: (
            torch.from_numpy(np.asarray(im.resize((16, 16)), np.float32)).permute(2, 0, 1).div(255)
        ),
        device="cpu",
    )


if "tinyref" not in extractor_kinds():
    register_extractor("tinyref", _tiny)


def _write_images(folder: Path, n: int, seed: int, fmt: str = "PNG", size: int = 24) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        path = folder / f"img{i:03d}.{fmt.lower()}"
        Image.fromarray(arr).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        paths.append(path)
    return paths


def test_build_writes_stats_and_meta_that_load_back(tmp_path: Path) -> None:
    paths = _write_images(tmp_path / "real", 9, 0)
    ref_dir = build_reference(
        tmp_path / "real", "toy", tmp_path, {"kind": "tinyref"}, batch_size=4, progress=False
    )
    assert ref_dir == tmp_path / "references" / "toy"
    meta = json.loads((ref_dir / "meta.json").read_text())
    assert meta["extractor"] == "tinyref:v1" and meta["resize"] == "clean"
    assert meta["image_count"] == 9 and meta["dim"] == 24
    assert meta["source_dir"] == str((tmp_path / "real").resolve())
    assert "numpy" in meta["packages"] and meta["created"]

    # The stored sums equal features computed directly, image by image.
    extractor = make_extractor({"kind": "tinyref"})
    direct = np.concatenate([extractor([Image.open(p).convert("RGB")]) for p in paths])
    ref = load_reference("toy", tmp_path, extractor="tinyref:v1", resize="clean")
    np.testing.assert_allclose(ref.stats.mean(), direct.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ref.stats.cov(), np.cov(direct, rowvar=False), atol=1e-9)
    assert ref.reservoir.shape == (9, 24)
    # Loading by path works too.
    assert load_reference(ref_dir, tmp_path / "elsewhere").stats.n == 9


def test_reads_png_jpeg_webp(tmp_path: Path) -> None:
    _write_images(tmp_path / "mixed", 2, 1, "PNG")
    _write_images(tmp_path / "mixed" / "sub", 2, 2, "JPEG")
    webp = _write_images(tmp_path / "webp", 2, 3, "WEBP")
    for p in webp:
        p.rename(tmp_path / "mixed" / ("w" + p.name))
    ref_dir = build_reference(tmp_path / "mixed", "mixed", tmp_path, {"kind": "tinyref"}, 8, False)
    assert json.loads((ref_dir / "meta.json").read_text())["image_count"] == 6


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    _write_images(tmp_path / "real", 3, 0)
    bad = tmp_path / "real" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserError) as err:
        build_reference(tmp_path / "real", "toy", tmp_path, {"kind": "tinyref"}, 4, False)
    assert "broken.png" in str(err.value)
    assert not (tmp_path / "references" / "toy").exists()  # nothing half-written


def test_missing_reference_and_identity_mismatch_are_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_reference("nope", tmp_path)
    _write_images(tmp_path / "real", 4, 0)
    build_reference(tmp_path / "real", "toy", tmp_path, {"kind": "tinyref"}, 4, False)
    with pytest.raises(UserError, match="existing references: toy"):
        load_reference("nope", tmp_path)
    with pytest.raises(UserError, match="extractor 'tinyref:v1'") as err:
        load_reference("toy", tmp_path, extractor="inception-v3-torchfidelity")
    assert err.value.field == "extractor"
    with pytest.raises(UserError, match="resize mode 'clean'"):
        load_reference("toy", tmp_path, extractor="tinyref:v1", resize="native")


def test_native_resize_is_part_of_identity(tmp_path: Path) -> None:
    _write_images(tmp_path / "real", 4, 0)
    build_reference(
        tmp_path / "real", "nat", tmp_path, {"kind": "tinyref", "resize": "native"}, 4, False
    )
    ref = load_reference("nat", tmp_path, extractor="tinyref:v1", resize="native")
    assert ref.resize == "native"
    with pytest.raises(UserError):
        load_reference("nat", tmp_path, resize="clean")


def test_bad_input_is_refused(tmp_path: Path) -> None:
    _write_images(tmp_path / "real", 2, 0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        build_reference(tmp_path / "empty", "x", tmp_path, {"kind": "tinyref"}, 4, False)
    with pytest.raises(UserError, match="name"):
        build_reference(tmp_path / "real", "../escape", tmp_path, {"kind": "tinyref"}, 4, False)
    with pytest.raises(UserError, match="unknown feature extractor"):
        build_reference(tmp_path / "real", "x", tmp_path, {"kind": "nosuch"}, 4, False)
    build_reference(tmp_path / "real", "x", tmp_path, {"kind": "tinyref"}, 4, False)
    with pytest.raises(UserError, match="exists already"):
        build_reference(tmp_path / "real", "x", tmp_path, {"kind": "tinyref"}, 4, False)
    build_reference(tmp_path / "real", "x", tmp_path, {"kind": "tinyref"}, 4, False, overwrite=True)


def test_streamed_reference_equals_one_pass_stats(tmp_path: Path) -> None:
    """Batch size does not change the stored statistics."""
    _write_images(tmp_path / "real", 10, 5)
    a = build_reference(tmp_path / "real", "a", tmp_path, {"kind": "tinyref"}, 1, False)
    b = build_reference(tmp_path / "real", "b", tmp_path, {"kind": "tinyref"}, 10, False)
    with np.load(a / "stats.npz") as sa, np.load(b / "stats.npz") as sb:
        ga, gb = GaussianStats.from_arrays(dict(sa)), GaussianStats.from_arrays(dict(sb))
    np.testing.assert_allclose(ga.outer, gb.outer, rtol=1e-4)  # float32 conv batching noise


def test_extraction_runs_without_tf32_and_restores_the_flags() -> None:
    """TF32 changed H100 features by up to 7e-4 relative: extraction turns it off."""
    seen: list[bool] = []

    class Probe(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
            return x.mean(dim=(2, 3))

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        extractor = from_module(Probe(), "probe", input_size=8, device="cpu")
        extractor([Image.new("RGB", (8, 8))])
        assert seen and not any(seen)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
