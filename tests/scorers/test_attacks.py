"""The attack suite: names, determinism, sizes, and each edit checked against what it should do."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from audit.scorers.attacks import (
    ATTACK_NAMES,
    attack_bytes,
    attack_image,
    get_attack,
    seed_from_key,
    validate_attack_names,
)


def _textured(w: int = 96, h: int = 80, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_names_are_the_public_set_and_safe_for_columns() -> None:
    assert ATTACK_NAMES == (
        "jpeg90",
        "jpeg75",
        "jpeg50",
        "resize05",
        "crop08",
        "blur1",
        "noise005",
        "rot5",
        "bright13",
        "png",
    )
    for name in ATTACK_NAMES:
        assert re.fullmatch(r"[a-z][a-z0-9]*", name), name


def test_unknown_names_are_refused_and_lists_deduplicated() -> None:
    with pytest.raises(KeyError, match="unknown attack 'jpeg10'"):
        get_attack("jpeg10")
    with pytest.raises(ValueError, match="unknown attack 'resize0.5'"):
        validate_attack_names(["png", "resize0.5"])
    assert validate_attack_names(["png", "blur1", "png"]) == ["png", "blur1"]


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_size_kept_deterministic_and_both_views_agree(name: str) -> None:
    img = _textured()
    a = attack_image(name, img, "key-1")
    b = attack_image(name, img, "key-1")
    assert a.size == img.size and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    # The pixel view is exactly what decoding the file view gives.
    data = attack_bytes(name, _png(img), "key-1")
    with Image.open(io.BytesIO(data)) as decoded:
        assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(a))
        expected_format = "JPEG" if name.startswith("jpeg") else "PNG"
        assert decoded.format == expected_format


def test_png_keeps_pixels_and_drops_metadata_chunks() -> None:
    img = _textured()
    info = PngImagePlugin.PngInfo()
    info.add_text("provenance", "kept?")
    original = _png(img, pnginfo=info)
    assert b"provenance" in original
    out = attack_bytes("png", original, "k")
    assert b"provenance" not in out
    with Image.open(io.BytesIO(out)) as decoded:
        assert np.array_equal(np.asarray(decoded), np.asarray(img))


def test_jpeg_quality_orders_the_error() -> None:
    img = _textured(128, 128)
    ref = np.asarray(img, dtype=np.float64)
    err = {
        q: np.abs(np.asarray(attack_image(f"jpeg{q}", img, "k"), dtype=np.float64) - ref).mean()
        for q in (90, 75, 50)
    }
    assert 0 < err[90] < err[75] < err[50]


def test_noise_has_the_stated_sigma_and_follows_the_key() -> None:
    grey = Image.new("RGB", (128, 128), (128, 128, 128))
    a = np.asarray(attack_image("noise005", grey, "alpha"), dtype=np.float64)
    b = np.asarray(attack_image("noise005", grey, "beta"), dtype=np.float64)
    # Rounding to integers adds variance 1/12: compare with sqrt(sigma^2 + 1/12).
    expected = math.sqrt((0.05 * 255) ** 2 + 1 / 12)
    assert abs((a - 128).std() - expected) / expected < 0.03
    assert abs((a - 128).mean()) < 0.3
    assert not np.array_equal(a, b)
    assert seed_from_key("alpha") == seed_from_key("alpha") != seed_from_key("beta")


def test_brightness_scales_values() -> None:
    img = Image.new("RGB", (32, 32), (100, 50, 150))
    out = np.asarray(attack_image("bright13", img, "k"))
    assert tuple(out[0, 0]) == (130, 65, 195)


def test_blur_matches_a_gaussian_of_sigma_one() -> None:
    from scipy.ndimage import gaussian_filter

    img = _textured(96, 96)
    arr = np.asarray(img, dtype=np.float64)
    ours = np.asarray(attack_image("blur1", img, "k"), dtype=np.float64)
    ref = np.stack([gaussian_filter(arr[:, :, c], sigma=1.0) for c in range(3)], -1)
    inner = (slice(4, -4), slice(4, -4))
    # PIL approximates the Gaussian with box filters; close, not identical.
    assert np.abs(ours[inner] - ref[inner]).mean() < 1.0
    assert np.abs(ours[inner] - arr[inner]).mean() > 2.0


def test_resize_half_and_back_loses_only_fine_detail() -> None:
    flat = Image.new("RGB", (64, 48), (10, 120, 240))
    assert np.array_equal(np.asarray(attack_image("resize05", flat, "k")), np.asarray(flat))
    # A one-pixel checkerboard cannot survive halving: it comes back as near-uniform grey.
    checker = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)
    img = Image.fromarray(np.stack([checker] * 3, -1))
    out = np.asarray(attack_image("resize05", img, "k"), dtype=np.float64)
    assert out[8:-8, 8:-8].std() < 20


def test_crop_keeps_the_centre_and_scales_it_back() -> None:
    w = h = 100
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, 30] = 255  # a vertical line at x=30
    out = np.asarray(attack_image("crop08", Image.fromarray(arr), "k"), dtype=np.float64)
    # Crop keeps x in [10, 90); x=30 lands at (30 - 10) / 0.8 = 25 in the output.
    assert int(np.argmax(out[h // 2, :, 0])) in (24, 25, 26)


def test_rotation_turns_counter_clockwise_by_five_degrees() -> None:
    size, r = 101, 40
    arr = np.zeros((size, size, 3), np.uint8)
    c = size // 2
    arr[c - 1 : c + 2, c + r - 1 : c + r + 2] = 255  # a dot right of the centre
    out = np.asarray(attack_image("rot5", Image.fromarray(arr), "k"), dtype=np.float64)[:, :, 0]
    ys, xs = np.nonzero(out > 0)
    weight = out[ys, xs]
    y, x = (ys * weight).sum() / weight.sum(), (xs * weight).sum() / weight.sum()
    angle = math.degrees(math.atan2(c - y, x - c))  # image y points down
    assert abs(angle - 5.0) < 0.5
    # The corners uncovered by the turn are black.
    white = Image.new("RGB", (64, 64), "white")
    assert attack_image("rot5", white, "k").getpixel((0, 0)) == (0, 0, 0)
