"""Full-reference image quality: what an attack costs, measured against the unattacked image.

* PSNR (dB) = 10 log10(MAX^2 / MSE), MAX = 255, MSE over every pixel of every RGB channel
  (8-bit values); identical images give +inf.
* SSIM: Wang, Bovik, Sheikh and Simoncelli (2004), "Image quality assessment: from error
  visibility to structural similarity", eq. 13, with their constants K1 = 0.01, K2 = 0.03,
  L = 255 and an 11x11 Gaussian window of sigma 1.5 (a Gaussian filter truncated at 3.5
  sigma), the sample covariance normalised by N - 1 over the window's N = 121 pixels;
  computed per RGB channel, averaged over the valid (unpadded) window positions, then over
  channels. These are scikit-image's `structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=True, data_range=255, channel_axis=2)` settings, which
  the tests check against values recorded from scikit-image 0.26.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_VALUE = 255.0
K1, K2, SIGMA, TRUNCATE = 0.01, 0.03, 1.5, 3.5


def _array(img: Any) -> np.ndarray:
    if isinstance(img, np.ndarray):
        arr = img
    else:
        arr = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    return arr.astype(np.float64)


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _array(a), _array(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} vs {y.shape}")
    return x, y


def psnr(a: Any, b: Any) -> float:
    """Peak signal-to-noise ratio in dB between two 8-bit RGB images (PIL or HxWx3 array)."""
    x, y = _pair(a, b)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(MAX_VALUE**2 / mse)


def ssim(a: Any, b: Any) -> float:
    """Mean structural similarity (Wang et al. 2004) over RGB channels; 1.0 when identical."""
    from scipy.ndimage import gaussian_filter

    x, y = _pair(a, b)
    if x.ndim == 2:
        x, y = x[:, :, None], y[:, :, None]
    radius = int(TRUNCATE * SIGMA + 0.5)  # 5: an 11x11 window
    if min(x.shape[0], x.shape[1]) < 2 * radius + 1:
        raise ValueError("SSIM needs images of at least 11x11 pixels")
    n = (2 * radius + 1) ** 2
    cov_norm = n / (n - 1.0)
    c1, c2 = (K1 * MAX_VALUE) ** 2, (K2 * MAX_VALUE) ** 2
    values = []
    for c in range(x.shape[2]):
        xc, yc = x[:, :, c], y[:, :, c]

        def blur(z: np.ndarray) -> np.ndarray:
            return gaussian_filter(z, sigma=SIGMA, truncate=TRUNCATE, mode="reflect")

        ux, uy = blur(xc), blur(yc)
        vx = cov_norm * (blur(xc * xc) - ux * ux)
        vy = cov_norm * (blur(yc * yc) - uy * uy)
        vxy = cov_norm * (blur(xc * yc) - ux * uy)
        num = (2 * ux * uy + c1) * (2 * vxy + c2)
        den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
        s = num / den
        values.append(float(s[radius:-radius, radius:-radius].mean()))
    return float(np.mean(values))
