"""Invisible watermark detection (the `invisible-watermark` package, as SDXL pipelines use it).

Detection is a one-sided binomial test over the message bits. With `n` message bits of which
`k` decode correctly, the image counts as watermarked iff

    P(Binomial(n, 1/2) >= k) <= alpha.

Assumption: on an unmarked image each decoded bit agrees with the message bit like a fair
coin, independently of the others. Then the false-positive rate is at most `alpha` by
construction. The bits really come from image content, so the assumption can fail: a flat
image decodes as all-0 (or all-1) bits, which is why messages whose 0/1 mix is so uneven
that a constant decode would count as detected are refused. Tests check the false-positive
rate empirically on 200 varied procedural images (flat, gradients, shapes, texture, noise).

Bit accuracy alone is not a detector: unmarked images decode up to 33 of the 48 bits
correctly by chance (measured on 200 varied 256-512 px images), and 36 of 48 are needed at
alpha = 1e-3.

dwtDct hides each bit in the largest coefficient of 4x4 blocks of the U channel's wavelet
approximation, so it needs texture: flat or very smooth images carry the mark poorly (the
invisible-watermark README says so for posters and screenshots), and any edit that moves the
block grid (crop, rotation) or requantises it (JPEG) destroys it. See `attacks.py`.

`curves: [family, ...]` (or `true` for every pixel-space family) adds robustness curves
(`audit.scorers.robustness`): per family and strength, detection at this scorer's alpha, bit
accuracy, and the PSNR / SSIM the attack costs, as `wmc_*` columns. The regeneration families
(`vae`, `img2img`) run through `regen_model` (a diffusers directory, hub id or
`builtin:NAME`; by default the shipped toy-shapes model, whose VAE is trained).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from audit.environment import installed_versions
from audit.scorers.attacks import ATTACK_NAMES, attack_image, validate_attack_names
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.packaged_files import packaged_tree_digest
from audit.scorers.robustness import (
    PIXEL_FAMILIES,
    REGENERATION,
    Judgement,
    Regenerator,
    curve_metrics,
    curve_row,
    validate_families,
)

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

Method = Literal["dwtDct", "dwtDctSvd", "rivaGan"]

# The message diffusers' StableDiffusionXLPipeline embeds (dwtDct) in every image >= 256 px wide.
SDXL_MESSAGE = "B3EC907BB19E"
# imwatermark refuses images with fewer pixels than this (rows * cols).
MIN_PIXELS = 256 * 256
RIVAGAN_BITS = 32


def message_bits(message: str) -> list[int]:
    """Hex message -> bits, most significant first (4 bits per hex digit, leading zeros kept)."""
    text = message.strip().lower().removeprefix("0x").replace("_", "")
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"message must be hexadecimal digits, got '{message}'")
    value = int(text, 16)
    n = 4 * len(text)
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def binomial_tail(n: int, k: int) -> float:
    """P(Binomial(n, 1/2) >= k), exactly."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n


def min_matches(n: int, alpha: float) -> int:
    """The fewest matching bits (of n) that the test calls detected; n + 1 if none can."""
    for k in range(n + 1):
        if binomial_tail(n, k) <= alpha:
            return k
    return n + 1


class WatermarkOptions(ScorerOptions):
    method: Method = "dwtDct"
    message: str = Field(
        default=SDXL_MESSAGE, description="hex; default is SDXL's 48-bit 0xB3EC907BB19E"
    )
    alpha: float = Field(default=1e-3, gt=0.0, lt=0.5, description="false-positive rate")
    robustness: bool = False
    attacks: list[str] = Field(default_factory=lambda: list(ATTACK_NAMES))
    curves: list[str] = Field(
        default_factory=list,
        description="attack families for robustness curves (true: every pixel family)",
    )
    regen_model: str = Field(
        default="builtin:toy-shapes",
        description="diffusers model (dir, hub id, builtin:NAME) for the vae / img2img curves",
    )
    regen_steps: int = Field(default=20, ge=1, le=1000)
    device: str = "cpu"

    @field_validator("curves", mode="before")
    @classmethod
    def _curves_switch(cls, v: object) -> object:
        if v is True:
            return list(PIXEL_FAMILIES)
        return [] if v is False or v is None else v

    @field_validator("curves")
    @classmethod
    def _families(cls, v: list[str]) -> list[str]:
        return validate_families(v)

    @field_validator("message")
    @classmethod
    def _hex(cls, v: str) -> str:
        message_bits(v)
        return v

    @field_validator("attacks")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return validate_attack_names(v)

    @model_validator(mode="after")
    def _consistent(self) -> WatermarkOptions:
        n = len(message_bits(self.message))
        if self.method == "rivaGan" and n != RIVAGAN_BITS:
            raise ValueError(
                f"rivaGan carries exactly {RIVAGAN_BITS} bits but message has {n}; "
                "give a message of 8 hex digits"
            )
        need = min_matches(n, self.alpha)
        if need > n:
            raise ValueError(
                f"a {n}-bit message can never reach alpha={self.alpha} "
                f"(best p-value 2^-{n}); use a longer message or a larger alpha"
            )
        ones = sum(message_bits(self.message))
        if max(ones, n - ones) >= need:
            # Flat images decode as all-0 or all-1 bits, so such a message would flag them.
            raise ValueError(
                f"message has {ones} ones in {n} bits: an all-0 or all-1 decode (what flat "
                f"images give) would reach the {need} matches that count as detected; "
                "use a message with a more even mix of 0 and 1 bits"
            )
        return self


def _to_bgr(img: Image, dtype: Any) -> np.ndarray:
    import numpy as np

    rgb = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    return np.ascontiguousarray(rgb[:, :, ::-1], dtype=dtype)


@lru_cache(maxsize=1)
def _load_rivagan() -> None:
    from imwatermark import WatermarkEncoder

    WatermarkEncoder.loadModel()  # loads both ONNX sessions once per process


def embed_watermark(
    img: Image,
    method: Method = "dwtDct",
    message: str = SDXL_MESSAGE,
    *,
    like_diffusers: bool = False,
) -> Image:
    """Return an RGB copy of `img` carrying `message` (hex).

    By default the encoder gets 8-bit BGR, as imwatermark documents. `like_diffusers=True`
    reproduces diffusers' SDXL watermarker instead, which hands it float BGR in 0..255: cv2
    then converts to YUV with the offsets meant for a 0..1 range, and the mark decodes less
    reliably from the saved 8-bit file (measured on textured 256-512 px images: mean bit
    accuracy 0.83 and 27/30 detected, against 0.97 and 30/30 for the 8-bit path).
    Raises ValueError on images with fewer than 256*256 pixels (imwatermark refuses them).
    """
    import numpy as np
    from imwatermark import WatermarkEncoder
    from PIL import Image as PILImage

    w, h = img.size
    if w * h < MIN_PIXELS:
        raise ValueError(f"image {w}x{h} is too small to watermark (needs >= 256*256 pixels)")
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", message_bits(message))
    if method == "rivaGan":
        _load_rivagan()
    if like_diffusers:
        marked = np.asarray(encoder.encode(_to_bgr(img, np.float32), method), np.float32)
        rgb = np.clip(np.rint(marked[:, :, ::-1]), 0, 255).astype(np.uint8)
    else:
        marked = np.asarray(encoder.encode(_to_bgr(img, np.uint8), method))
        rgb = marked[:, :, ::-1].astype(np.uint8)
    return PILImage.fromarray(np.ascontiguousarray(rgb), "RGB")


def decode_bits(img: Image, method: Method, n_bits: int) -> list[int] | None:
    """The bits the decoder reads from `img`; None when the image is too small to carry any."""
    import numpy as np
    from imwatermark import WatermarkDecoder

    w, h = img.size
    if w * h < MIN_PIXELS:
        return None
    if method == "rivaGan":
        _load_rivagan()
    decoder = WatermarkDecoder("bits", n_bits)
    bits = decoder.decode(_to_bgr(img, np.uint8), method)
    return [int(b) for b in np.asarray(bits).reshape(-1)[:n_bits]]


class WatermarkScorer(ImageScorer[WatermarkOptions]):
    """Bit accuracy and a calibrated detection decision for an invisible watermark."""

    name = "watermark"
    version = "1"

    def __init__(self, options: WatermarkOptions | None = None) -> None:
        super().__init__(options)
        self._bits = message_bits(self.options.message)
        self._threshold = min_matches(len(self._bits), self.options.alpha)

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        reqs = [
            package_requirement("imwatermark", "invisible-watermark"),
            package_requirement("cv2", "opencv-python-headless<5"),
            package_requirement("pywt", "PyWavelets"),
            # imwatermark imports torch on import (for rivaGan), whatever the method.
            package_requirement("torch"),
        ]
        if isinstance(options, WatermarkOptions) and options.method == "rivaGan":
            reqs.append(package_requirement("onnxruntime"))  # runs rivaGan's ONNX nets
        if isinstance(options, WatermarkOptions) and options.curves:
            reqs.append(package_requirement("scipy"))  # SSIM's Gaussian window
            if REGENERATION & set(options.curves):
                reqs.append(package_requirement("diffusers"))  # the vae / img2img attacks
        return reqs

    def loads(self) -> dict[str, str]:
        """The decoder's package version, and for rivaGan the digests of its ONNX nets."""
        out = installed_versions(["invisible-watermark"])
        if self.options.method == "rivaGan":
            out["rivagan"] = packaged_tree_digest("imwatermark", ".", "rivagan_*.onnx")
        if REGENERATION & set(self.options.curves):
            from audit.generate.models import fingerprint

            out["regen_model"] = fingerprint(self.options.regen_model)
            out.update(installed_versions(["diffusers"]))
        return out

    def metrics(self) -> list[Metric]:
        n, k = len(self._bits), self._threshold
        out = [
            Metric(
                "wm_bit_accuracy",
                "higher",
                "continuous",
                f"fraction of the {n} message bits decoded correctly ({self.options.method})",
            ),
            Metric(
                "wm_detected",
                "higher",
                "binary",
                f"watermark present: >= {k} of {n} bits match "
                f"(one-sided binomial test, alpha={self.options.alpha:g})",
            ),
        ]
        if self.options.robustness:
            for attack in self.options.attacks:
                out.append(
                    Metric(
                        f"wm_detected_{attack}",
                        "higher",
                        "binary",
                        f"watermark still detected after attack '{attack}'",
                    )
                )
                out.append(
                    Metric(
                        f"wm_bit_accuracy_{attack}",
                        "higher",
                        "continuous",
                        f"bit accuracy after attack '{attack}'",
                    )
                )
        if self.options.curves:
            out.extend(curve_metrics("wmc", self.options.curves))
        return out

    def _verdict(self, img: Image) -> Judgement:
        acc, det = self._judge(img)
        return Judgement(
            detected=None if det is None else float(det),
            bit_accuracy=None if acc is None else float(acc),
        )

    def _regenerator(self) -> Regenerator | None:
        if not REGENERATION & set(self.options.curves):
            return None
        if getattr(self, "_regen", None) is None:
            source = self.options.regen_model
            if not (Path(source) / "config.json").is_file():  # a bare VAE folder is fine
                from audit.generate.models import resolve_source

                source = resolve_source(source, device=self.options.device)
            self._regen = Regenerator(
                source, device=self.options.device, steps=self.options.regen_steps
            )
        return self._regen

    def _judge(self, img: Image) -> tuple[Value, Value]:
        decoded = decode_bits(img, self.options.method, len(self._bits))
        if decoded is None:
            return None, None  # too small to carry a mark: not applicable
        matches = sum(int(a == b) for a, b in zip(decoded, self._bits, strict=True))
        return matches / len(self._bits), float(matches >= self._threshold)

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        rows: list[dict[str, Value]] = []
        for item in items:
            img = item.image()
            acc, det = self._judge(img)
            row: dict[str, Value] = {"wm_bit_accuracy": acc, "wm_detected": det}
            if self.options.robustness:
                for attack in self.options.attacks:
                    a_acc, a_det = self._judge(attack_image(attack, img, item.key))
                    row[f"wm_detected_{attack}"] = a_det
                    row[f"wm_bit_accuracy_{attack}"] = a_acc
            if self.options.curves:
                row.update(
                    curve_row(
                        img,
                        item.key,
                        self._verdict,
                        self.options.curves,
                        prefix="wmc",
                        regenerator=self._regenerator(),
                    )
                )
            rows.append(row)
        return rows
