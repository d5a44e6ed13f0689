"""Robustness curves: detection against attack strength, with what each attack costs.

Following the WAVES benchmark (An et al., 2024, "WAVES: Benchmarking the Robustness of Image
Watermarks"), each attack family is a ladder of strengths, and at each strength the curve
reports the detection rate at the detector's own false-positive rate, bit accuracy where the
detector decodes bits, and the quality the attack costs against the unattacked image (PSNR
and SSIM, `audit.scorers.image_quality`). Families and strengths (WAVES' ranges):

* `jpeg`: re-encode at quality 90, 70, 50, 30, 10;
* `crop`: resized crop: the centred square-ratio crop keeping 0.9 ... 0.5 of the area,
  resized back (WAVES draws the crop's position at random; here it is centred, so runs
  repeat exactly);
* `rotate`: 9 ... 45 degrees about the centre, same canvas, black corners;
* `blur`: Gaussian blur, sigma 1 ... 5 px;
* `noise`: Gaussian noise, sigma 0.02 ... 0.10 of the 0..255 range, seeded by the image key;
* `bright`: brightness x1.2 ... x2.0;
* `vae` (regeneration): one round trip through a diffusers AutoencoderKL (encode, take the
  latent distribution's mode, decode);
* `img2img` (regeneration): an image-to-image diffusion pass at strength 0.1 ... 0.5.

How to reuse (e.g. for another watermark's scorer): give `curve_row` a `judge` callable that
maps a PIL image to a `Judgement` (detected 0/1 at the detector's FPR, and optionally bit
accuracy and a raw score) and a column `prefix`; declare the columns with `curve_metrics`.
Each image then carries, per family and strength, `<prefix>_<stat>_<family>_<level>` columns
for stat in detected, bit_accuracy, psnr, ssim (level: the strength with '.' written 'p',
e.g. `wmc_detected_jpeg_50`, `wmc_psnr_crop_0p8`). `audit.stats.safety.robustness_curves`
turns those columns into the curve table (rate k / n with exact intervals, mean bit
accuracy, PSNR and SSIM per group, family and strength) that the report and dashboard plot.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import UserError
from audit.scorers.attacks import seed_from_key
from audit.scorers.base import Metric, Value
from audit.scorers.image_quality import psnr, ssim

if TYPE_CHECKING:
    from PIL.Image import Image

STATS = ("detected", "bit_accuracy", "psnr", "ssim")


@dataclass(frozen=True)
class Judgement:
    """A detector's verdict on one image: detected (1/0 at its false-positive rate, None
    when it cannot tell), bit accuracy (None for detectors without bits), raw score."""

    detected: float | None
    bit_accuracy: float | None = None
    score: float | None = None


Judge = Callable[["Image"], Judgement]
Apply = Callable[["Image", float, str], "Image"]


@dataclass(frozen=True)
class Ladder:
    family: str  # [a-z0-9]+: part of column names
    description: str  # "... at {s}" is formatted with the strength
    strengths: tuple[float, ...]
    apply: Apply | None  # None: a regeneration attack, applied by a `Regenerator`


def level_token(strength: float) -> str:
    """The strength as a column-name token: 50 -> '50', 0.8 -> '0p8'."""
    return f"{strength:g}".replace(".", "p").replace("-", "m")


def _rgb(img: Image) -> Image:
    return img if img.mode == "RGB" else img.convert("RGB")


def _jpeg(img: Image, quality: float, key: str) -> Image:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    _rgb(img).save(buf, format="JPEG", quality=int(quality), subsampling=2, optimize=False)
    with PILImage.open(io.BytesIO(buf.getvalue())) as decoded:
        return decoded.convert("RGB")


def _crop(img: Image, area: float, key: str) -> Image:
    from PIL import Image as PILImage

    w, h = img.size
    side = math.sqrt(area)
    cw, ch = max(1, round(w * side)), max(1, round(h * side))
    left, top = (w - cw) // 2, (h - ch) // 2
    box = (left, top, left + cw, top + ch)
    return _rgb(img).crop(box).resize((w, h), PILImage.Resampling.BICUBIC)


def _rotate(img: Image, degrees: float, key: str) -> Image:
    from PIL import Image as PILImage

    return _rgb(img).rotate(degrees, resample=PILImage.Resampling.BILINEAR, fillcolor=(0, 0, 0))


def _blur(img: Image, sigma: float, key: str) -> Image:
    from PIL import ImageFilter

    return _rgb(img).filter(ImageFilter.GaussianBlur(radius=sigma))


def _noise(img: Image, sigma: float, key: str) -> Image:
    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed_from_key(f"{key}/noise/{sigma:g}"))
    arr = np.asarray(_rgb(img), dtype=np.float32)
    noisy = arr + rng.normal(0.0, sigma * 255.0, size=arr.shape).astype(np.float32)
    return PILImage.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


def _bright(img: Image, factor: float, key: str) -> Image:
    from PIL import ImageEnhance

    return ImageEnhance.Brightness(_rgb(img)).enhance(factor)


LADDERS: dict[str, Ladder] = {
    lad.family: lad
    for lad in [
        Ladder("jpeg", "JPEG quality {s:g}", (90, 70, 50, 30, 10), _jpeg),
        Ladder("crop", "resized crop keeping {s:g} of the area", (0.9, 0.8, 0.7, 0.6, 0.5), _crop),
        Ladder("rotate", "rotation by {s:g} degrees", (9, 18, 27, 36, 45), _rotate),
        Ladder("blur", "Gaussian blur, sigma {s:g} px", (1, 2, 3, 4, 5), _blur),
        Ladder(
            "noise", "Gaussian noise, sigma {s:g} of range", (0.02, 0.04, 0.06, 0.08, 0.1), _noise
        ),
        Ladder("bright", "brightness x{s:g}", (1.2, 1.4, 1.6, 1.8, 2.0), _bright),
        Ladder("vae", "VAE round trip", (1,), None),
        Ladder("img2img", "img2img at strength {s:g}", (0.1, 0.2, 0.3, 0.4, 0.5), None),
    ]
}
FAMILIES: tuple[str, ...] = tuple(LADDERS)
PIXEL_FAMILIES: tuple[str, ...] = tuple(f for f, lad in LADDERS.items() if lad.apply is not None)
REGENERATION: frozenset[str] = frozenset(f for f, lad in LADDERS.items() if lad.apply is None)


def validate_families(names: Iterable[str]) -> list[str]:
    """The family names, in order, without repeats; ValueError naming an unknown one."""
    out: list[str] = []
    for name in names:
        if name not in LADDERS:
            raise ValueError(f"unknown attack family '{name}'; known: {', '.join(FAMILIES)}")
        if name not in out:
            out.append(name)
    return out


def column(prefix: str, stat: str, family: str, strength: float) -> str:
    return f"{prefix}_{stat}_{family}_{level_token(strength)}"


def curve_metrics(prefix: str, families: Sequence[str], *, bits: bool = True) -> list[Metric]:
    """The columns `curve_row` writes, declared with direction (PSNR and SSIM describe the
    attack, not the model: no direction)."""
    out: list[Metric] = []
    for family in families:
        lad = LADDERS[family]
        for s in lad.strengths:
            what = lad.description.format(s=s)
            out.append(
                Metric(
                    column(prefix, "detected", family, s),
                    "higher",
                    "binary",
                    f"detected after {what}",
                )
            )
            if bits:
                out.append(
                    Metric(
                        column(prefix, "bit_accuracy", family, s),
                        "higher",
                        "continuous",
                        f"bit accuracy after {what}",
                    )
                )
            out.append(
                Metric(
                    column(prefix, "psnr", family, s),
                    "none",
                    "continuous",
                    f"PSNR (dB) of the image after {what} against the unattacked one",
                )
            )
            out.append(
                Metric(
                    column(prefix, "ssim", family, s),
                    "none",
                    "continuous",
                    f"SSIM of the image after {what} against the unattacked one",
                )
            )
    return out


class Regenerator:
    """Regeneration attacks through a diffusers model directory (or hub id): the VAE round
    trip (`AutoencoderKL` from its `vae` subfolder, or the folder itself if it is a VAE) and
    img2img (`AutoPipelineForImage2Image`). Loaded on first use; deterministic (seeded by
    the image key). `steps` is the img2img schedule length; strength s runs about s * steps.
    """

    def __init__(self, source: str | Path, *, device: str = "cpu", steps: int = 20) -> None:
        self.source = str(source)
        self.device = device
        self.steps = steps
        self._vae: Any = None
        self._pipe: Any = None

    def _load_vae(self) -> Any:
        if self._vae is None:
            from diffusers import AutoencoderKL

            root = Path(self.source)
            sub = "vae" if not (root / "config.json").is_file() else None
            try:
                vae = AutoencoderKL.from_pretrained(self.source, subfolder=sub)
            except (OSError, ValueError) as exc:
                raise self._unloadable("a VAE (AutoencoderKL)", exc) from None
            self._vae = vae.to(self.device).eval()
        return self._vae

    def _unloadable(self, what: str, exc: Exception) -> UserError:
        return UserError(
            f"cannot load {what} from '{self.source}': {exc}".splitlines()[0],
            field="scorers.watermark.regen_model",
            fix="give a local diffusers pipeline directory (or a VAE folder for `vae`), a "
            "cached hub id, or builtin:toy-shapes",
        )

    def vae_round_trip(self, img: Image) -> Image:
        import numpy as np
        import torch
        from PIL import Image as PILImage

        vae = self._load_vae()
        arr = np.asarray(_rgb(img), dtype=np.float32) / 127.5 - 1.0
        x = torch.from_numpy(arr).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            latents = vae.encode(x).latent_dist.mode()
            y = vae.decode(latents).sample[0]
        out = ((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu()
        return PILImage.fromarray(out.numpy(), "RGB")

    def img2img(self, img: Image, strength: float, key: str, prompt: str = "") -> Image:
        import torch

        if self._pipe is None:
            from diffusers import AutoPipelineForImage2Image

            try:
                pipe = AutoPipelineForImage2Image.from_pretrained(self.source)
            except (OSError, ValueError) as exc:
                raise self._unloadable("an img2img pipeline", exc) from None
            if hasattr(pipe, "safety_checker"):
                pipe.safety_checker = None
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe.to(self.device)
        generator = torch.Generator("cpu").manual_seed(seed_from_key(key) % 2**63)
        rgb = _rgb(img)
        # img2img runs int(steps * strength) steps: at least one, however weak the attack.
        steps = max(self.steps, math.ceil(1.0 / strength)) if strength > 0 else self.steps
        out = self._pipe(
            prompt=prompt,
            image=rgb,
            strength=strength,
            num_inference_steps=steps,
            guidance_scale=1.0,
            generator=generator,
        ).images[0]
        return out if out.size == rgb.size else out.resize(rgb.size)

    def apply(self, family: str, img: Image, strength: float, key: str) -> Image:
        if family == "vae":
            return self.vae_round_trip(img)
        if family == "img2img":
            return self.img2img(img, strength, key)
        raise ValueError(f"'{family}' is not a regeneration attack")


def attacked(
    family: str, img: Image, strength: float, key: str, regenerator: Regenerator | None = None
) -> Image:
    """The image after attack `family` at `strength`."""
    lad = LADDERS[family]
    if lad.apply is not None:
        return lad.apply(img, strength, key)
    if regenerator is None:
        raise ValueError(f"attack family '{family}' needs a model (a Regenerator)")
    return regenerator.apply(family, img, strength, key)


def curve_row(
    img: Image,
    key: str,
    judge: Judge,
    families: Sequence[str],
    *,
    prefix: str,
    regenerator: Regenerator | None = None,
    bits: bool = True,
) -> dict[str, Value]:
    """One image's columns for every family and strength: the judge's verdict on the
    attacked image, and PSNR / SSIM of the attacked image against `img`."""
    row: dict[str, Value] = {}
    for family in families:
        for s in LADDERS[family].strengths:
            out = attacked(family, img, s, key, regenerator)
            verdict = judge(out)
            row[column(prefix, "detected", family, s)] = verdict.detected
            if bits:
                row[column(prefix, "bit_accuracy", family, s)] = verdict.bit_accuracy
            value = psnr(img, out)
            row[column(prefix, "psnr", family, s)] = value if math.isfinite(value) else None
            row[column(prefix, "ssim", family, s)] = ssim(img, out)
    return row
