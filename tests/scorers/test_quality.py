"""BRISQUE quality scorer: runs under NumPy 2 and ranks degraded images below clean ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audit.prompts.model import Expectations
from audit.scorers.base import ScoreItem, missing
from audit.scorers.quality import FEATURES_PER_SCALE, QualityScorer, _flat_brisque


def _texture(seed: int, size: int = 64) -> np.ndarray:
    """A natural-ish RGB image: 1/f noise per channel plus a few hard-edged discs."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    freq = np.hypot(fx, fy)
    freq[0, 0] = 1.0
    channels = []
    for _ in range(3):
        spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / freq
        x = np.real(np.fft.ifft2(spectrum))
        channels.append((x - x.min()) / (x.max() - x.min()))
    img = np.stack(channels, -1)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(6):
        cx, cy = rng.uniform(0, size, 2)
        radius = rng.uniform(size / 12, size / 5)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < radius**2
        img[disc] = 0.3 * img[disc] + 0.7 * rng.uniform(0, 1, 3)
    return (img * 255).astype(np.uint8)


def _blurred(img: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(2)))


def _noised(img: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 40, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _item(img: np.ndarray, path: Path) -> ScoreItem:
    from PIL import Image

    Image.fromarray(img).save(path)
    return ScoreItem(path.stem, path, "a landscape", path.stem, Expectations())


def test_runs_under_numpy_2() -> None:
    assert int(np.__version__.split(".")[0]) >= 2  # the case the workaround exists for
    assert missing(QualityScorer.check()) == []
    score = QualityScorer().score_image(_texture(0))
    assert np.isfinite(score)


def test_features_are_a_flat_float_vector() -> None:
    gray = _texture(1)[..., 0] / 255.0
    features = _flat_brisque().calculate_brisque_features(gray)
    assert features.dtype == np.float64 and features.shape == (FEATURES_PER_SCALE,)
    assert np.isfinite(features).all()


def test_same_score_as_the_package_with_features_converted_by_hand() -> None:
    """Our flattening must not change the package's numbers, only make them computable."""
    import cv2
    import skimage.color
    from brisque import BRISQUE

    img = _texture(2)
    plain = BRISQUE()
    gray = skimage.color.rgb2gray(img)
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    raw = [*plain.calculate_brisque_features(gray), *plain.calculate_brisque_features(half)]
    reference = plain.calculate_image_quality_score([np.asarray(f).item() for f in raw])
    assert QualityScorer().score_image(img) == pytest.approx(reference, rel=1e-12)


def test_degraded_images_score_worse(tmp_path: Path) -> None:
    scorer = QualityScorer()
    items = []
    for seed in range(3):
        clean = _texture(seed)
        for name, img in (
            ("clean", clean),
            ("blur", _blurred(clean)),
            ("noise", _noised(clean, seed)),
            ("both", _noised(_blurred(clean), seed)),
        ):
            items.append(_item(img, tmp_path / f"{name}{seed}.png"))
    rows = scorer.score_batch(items)
    assert {k for row in rows for k in row} == {"brisque"}
    scores = [float(row["brisque"] or 0) for row in rows]
    for seed in range(3):
        clean, *degraded = scores[4 * seed : 4 * seed + 4]
        assert all(d > clean + 10 for d in degraded), scores[4 * seed : 4 * seed + 4]
    # deterministic up to float rounding (seen: differences of 1e-14 between calls)
    again = [float(row["brisque"] or 0) for row in scorer.score_batch(items)]
    assert again == pytest.approx(scores, rel=1e-9)
