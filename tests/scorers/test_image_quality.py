"""PSNR and SSIM against values recorded from scikit-image 0.26.0
(`skimage.metrics.peak_signal_noise_ratio(a, b, data_range=255)` and
`structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=True,
data_range=255, channel_axis=2)`), computed once on the images built below."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from audit.scorers.image_quality import psnr, ssim


def _pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:64, 0:48]
    a = np.stack([(xx * 5) % 256, (yy * 4) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 12, a.shape).round().astype(int)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    c = np.roll(a, 3, axis=1)
    return a, b, c


def test_matches_scikit_image() -> None:
    a, b, c = _pair()
    assert ssim(a, b) == pytest.approx(0.5365894273482837, abs=1e-12)
    assert psnr(a, b) == pytest.approx(26.871605519301404, abs=1e-9)
    assert ssim(a, c) == pytest.approx(0.9265440466232396, abs=1e-12)
    assert psnr(a, c) == pytest.approx(15.168540736067497, abs=1e-9)


def test_identity_pil_input_and_errors() -> None:
    a, b, _ = _pair()
    assert psnr(a, a) == math.inf and ssim(a, a) == pytest.approx(1.0)
    assert psnr(Image.fromarray(a), Image.fromarray(b)) == psnr(a, b)
    with pytest.raises(ValueError, match="differ in size"):
        psnr(a, a[:10])
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[:8, :8], a[:8, :8])
