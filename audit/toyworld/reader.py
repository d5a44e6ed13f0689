"""Read shapes, colours and positions straight from a toy-world image's pixels.

The reader needs no model: the background colour is estimated from the image border, a pixel
is foreground when it is both saturated and far from that background, its colour is the
palette hue nearest to its own hue (mixing with a light background keeps the hue, so blurred
or tinted edges of a generated image still read right), and each colour's connected
components above a minimum area are objects. A component's shape comes from two box
statistics: triangles are much fuller at the bottom than the top, squares fill their box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.toyworld.world import PALETTE

# Palette hues in degrees, computed once; a pixel takes the nearest on the hue circle.
_HUES: dict[str, float] = {}


def _hue_of(rgb: tuple[int, int, int]) -> float:
    h = _rgb_to_hsv(np.array([[rgb]], dtype=np.float32) / 255.0)[0][0, 0]
    return float(h)


def _rgb_to_hsv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(-1), x.min(-1)
    d = mx - mn
    safe = np.where(d > 1e-6, d, 1.0)
    h = np.where(
        mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    h = np.where(d > 1e-6, h * 60.0, 0.0)
    s = np.where(mx > 1e-6, d / np.where(mx > 1e-6, mx, 1.0), 0.0)
    return h, s, mx


for _name, _rgb in PALETTE.items():
    _HUES[_name] = _hue_of(_rgb)


@dataclass(frozen=True)
class Found:
    shape: str
    color: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive
    center: tuple[float, float]  # centroid of the component's pixels
    area: int


@dataclass(frozen=True)
class ReaderOptions:
    min_saturation: float = 0.35
    min_distance: float = 60.0  # RGB distance from the estimated background
    min_area: int = 24
    max_area_fraction: float = 0.5  # bigger than this is a background blotch, not an object


def read(image: Any, options: ReaderOptions | None = None) -> list[Found]:
    """Objects found in an RGB image (PIL image or HxWx3 uint8 array), top-left first."""
    from scipy import ndimage

    opt = options or ReaderOptions()
    arr = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    x = arr.astype(np.float32)
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    background = np.median(border, axis=0)
    dist = np.sqrt(((x - background) ** 2).sum(-1))
    hue, sat, _ = _rgb_to_hsv(x / 255.0)
    fg = (sat >= opt.min_saturation) & (dist >= opt.min_distance)

    names = list(_HUES)
    centres = np.array([_HUES[n] for n in names], dtype=np.float32)
    diff = np.abs(hue[..., None] - centres)
    nearest = np.minimum(diff, 360.0 - diff).argmin(-1)

    found: list[Found] = []
    limit = opt.max_area_fraction * arr.shape[0] * arr.shape[1]
    for ci, color in enumerate(names):
        mask = fg & (nearest == ci)
        labels, n = ndimage.label(mask)
        if n == 0:
            continue
        for idx, sl in enumerate(ndimage.find_objects(labels), start=1):
            comp = labels[sl] == idx
            area = int(comp.sum())
            if area < opt.min_area or area > limit:
                continue
            ys, xs = np.nonzero(comp)
            y0, x0 = sl[0].start, sl[1].start
            box = (x0, y0, sl[1].stop - 1, sl[0].stop - 1)
            center = (float(xs.mean() + x0), float(ys.mean() + y0))
            found.append(Found(classify(comp), color, box, center, area))
    found.sort(key=lambda f: (f.box[1], f.box[0]))
    return found


def classify(comp: np.ndarray) -> str:
    """Shape of one component from its box-cropped boolean mask."""
    h, w = comp.shape
    fill = comp.sum() / float(h * w)
    third = max(1, h // 3)
    top = comp[:third].mean()
    bottom = comp[-third:].mean()
    if bottom - top > 0.3:
        return "triangle"
    return "square" if fill > 0.9 else "circle"


def counts(found: list[Found]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for f in found:
        out[(f.shape, f.color)] = out.get((f.shape, f.color), 0) + 1
    return out
