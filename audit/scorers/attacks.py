"""Attack suite for robustness scoring: common edits an image meets after it leaves the model.

Each attack is a pixel transform (possibly none) followed by an encoding (PNG or JPEG). Two
views of the same attack, because the scorers need different things:

* `attack_bytes` gives the re-encoded *file* — what C2PA survival must be judged on, since
  a manifest lives in the container, not in the pixels.
* `attack_image` gives the *pixels* a decoder would see after opening that file — what a
  watermark decoder needs. For lossless PNG it skips the encode (the pixels are identical).

Every attack is deterministic: the noise attack seeds its generator from the image key.
Names are safe for metric column names (`wm_detected_<name>`); they are a public contract.
The strengths follow the mild end of the WAVES benchmark's ranges.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL.Image import Image

Transform = Callable[["Image", str], "Image"]


@dataclass(frozen=True)
class Attack:
    name: str
    description: str
    transform: Transform | None  # None: pixels untouched
    encoding: Literal["png", "jpeg"] = "png"
    quality: int = 95  # JPEG quality; ignored for PNG


def _rgb(img: Image) -> Image:
    return img if img.mode == "RGB" else img.convert("RGB")


def _resize_back(img: Image, key: str, *, factor: float = 0.5) -> Image:
    from PIL import Image as PILImage

    w, h = img.size
    small = img.resize(
        (max(1, round(w * factor)), max(1, round(h * factor))), PILImage.Resampling.BICUBIC
    )
    return small.resize((w, h), PILImage.Resampling.BICUBIC)


def _centre_crop_back(img: Image, key: str, *, keep: float = 0.8) -> Image:
    from PIL import Image as PILImage

    w, h = img.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch)).resize((w, h), PILImage.Resampling.BICUBIC)


def _blur(img: Image, key: str, *, radius: float = 1.0) -> Image:
    from PIL import ImageFilter

    return img.filter(ImageFilter.GaussianBlur(radius=radius))


def seed_from_key(key: str) -> int:
    """A stable 64-bit seed from an image key (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def _noise(img: Image, key: str, *, sigma: float = 0.05) -> Image:
    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed_from_key(key))
    arr = np.asarray(img, dtype=np.float32)
    noisy = arr + rng.normal(0.0, sigma * 255.0, size=arr.shape).astype(np.float32)
    return PILImage.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


def _rotate(img: Image, key: str, *, degrees: float = 5.0) -> Image:
    from PIL import Image as PILImage

    # Same canvas size; the corners uncovered by the turn are black, as in WAVES.
    return img.rotate(degrees, resample=PILImage.Resampling.BILINEAR, fillcolor=(0, 0, 0))


def _brighten(img: Image, key: str, *, factor: float = 1.3) -> Image:
    from PIL import ImageEnhance

    return ImageEnhance.Brightness(img).enhance(factor)


ATTACKS: dict[str, Attack] = {
    a.name: a
    for a in [
        Attack("jpeg90", "JPEG re-encode at quality 90", None, "jpeg", 90),
        Attack("jpeg75", "JPEG re-encode at quality 75", None, "jpeg", 75),
        Attack("jpeg50", "JPEG re-encode at quality 50", None, "jpeg", 50),
        Attack("resize05", "downscale to 0.5x, then back up (bicubic)", _resize_back),
        Attack("crop08", "centre crop to 0.8 of each side, then resize back", _centre_crop_back),
        Attack("blur1", "Gaussian blur, radius 1 px", _blur),
        Attack("noise005", "Gaussian noise, sigma 0.05 of range, seeded by image key", _noise),
        Attack("rot5", "rotate 5 degrees about the centre, black corners", _rotate),
        Attack("bright13", "brightness x1.3", _brighten),
        Attack("png", "PNG re-encode (lossless; drops metadata chunks)", None),
    ]
}

ATTACK_NAMES: tuple[str, ...] = tuple(ATTACKS)


def get_attack(name: str) -> Attack:
    try:
        return ATTACKS[name]
    except KeyError:
        raise KeyError(f"unknown attack '{name}'; known: {', '.join(ATTACK_NAMES)}") from None


def validate_attack_names(names: Iterable[str]) -> list[str]:
    """The names, in order and without repeats; ValueError naming the bad one (for pydantic)."""
    out: list[str] = []
    for name in names:
        if name not in ATTACKS:
            raise ValueError(f"unknown attack '{name}'; known: {', '.join(ATTACK_NAMES)}")
        if name not in out:
            out.append(name)
    return out


def _encode(img: Image, attack: Attack) -> bytes:
    buf = io.BytesIO()
    if attack.encoding == "jpeg":
        # Fixed settings so the bytes are reproducible across runs.
        img.save(buf, format="JPEG", quality=attack.quality, subsampling=2, optimize=False)
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


def _apply_pixels(attack: Attack, img: Image, key: str) -> Image:
    img = _rgb(img)
    return attack.transform(img, key) if attack.transform is not None else img


def attack_bytes(name: str, data: bytes, key: str) -> bytes:
    """The file a user would hold after the attack: decode, transform, re-encode.

    Re-encoding writes pixels only, so any metadata (C2PA manifest, text chunks) is gone.
    """
    from PIL import Image as PILImage

    attack = get_attack(name)
    with PILImage.open(io.BytesIO(data)) as opened:
        img = _apply_pixels(attack, opened, key)
        return _encode(img, attack)


def attack_image(name: str, img: Image, key: str) -> Image:
    """The RGB pixels after the attack, as a decoder would read them from `attack_bytes`."""
    from PIL import Image as PILImage

    attack = get_attack(name)
    out = _apply_pixels(attack, img, key)
    if attack.encoding == "png":
        return out  # lossless: decoding the PNG gives these exact pixels
    with PILImage.open(io.BytesIO(_encode(out, attack))) as decoded:
        return decoded.convert("RGB")
