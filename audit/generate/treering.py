"""Tree-Ring watermarks (Wen et al., 2023, "Tree-Ring Watermarks: Fingerprints for Diffusion
Images that are Invisible and Robust"): a key written into the Fourier transform of an image's
initial noise, found again by inverting DDIM sampling from the image back to that noise.

Follows github.com/YuxinWenRick/tree-ring-watermark at commit 3015283d9cf8 (optim_utils.py:
`circle_mask`, `get_watermarking_mask`, `get_watermarking_pattern` with the 'ring' pattern,
`inject_watermark`, `eval_watermark`, `get_p_value`; inverse_stable_diffusion.py for the
inversion: empty prompt, guidance 1, encoder mean). Our own code, with three deliberate
differences, each so that a number means what it says:

* The disc is centred on the zero frequency of the shifted transform, (H//2, W//2). The
  reference flips the row axis (`y[::-1]`) and so centres it one row off (row H//2 - 1),
  which makes the disc lopsided about the zero frequency.
* The ring values are the real parts of the reference's values (the shifted transform of a
  seeded Gaussian latent at row 0, column r, for each radius r). A real key on a disc
  symmetric about the zero frequency is Hermitian, so the real inverse transform keeps it
  exactly; the reference's complex values lose their imaginary parts to `.real`, so its
  injected noise never holds the key it is later compared with.
* The p-value counts each independent Fourier coefficient once. Of a real latent's transform,
  the coefficient at -f is the conjugate of that at f; the reference's chi-square counts both
  (and the zero frequency's imaginary part, always 0), which doubles the statistic's variance
  and makes its p-values too small on unmarked images. Here only one of each pair (and not
  the zero frequency) enters `ncx2.cdf`, in the reference's formula.

Latents are (channels, height, width) per image; keys depend only on their settings and the
latent shape, so the generator and the detector make the same one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.errors import UserError

if TYPE_CHECKING:
    from audit.config import TreeRingKeySpec

REFERENCE = "github.com/YuxinWenRick/tree-ring-watermark@3015283d9cf82e90b628f02ad2121bd37408ca9a"


@dataclass(frozen=True)
class TreeRingKey:
    """The settings that decide a key (`provenance.watermark` less its `models`)."""

    key_seed: int = 0
    radius: int = 10
    channel: int = -1  # -1: every channel
    pattern: str = "ring"

    @classmethod
    def from_spec(cls, spec: TreeRingKeySpec) -> TreeRingKey:
        return cls(spec.key_seed, spec.radius, spec.channel, spec.pattern)

    def canonical(self) -> str:
        """The JSON a request carries (and its key hashes): method and settings, sorted."""
        fields = {"method": "treering", **self.__dict__}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_canonical(cls, text: str) -> TreeRingKey:
        fields = json.loads(text)
        fields.pop("method", None)
        return cls(**fields)

    def check_shape(self, shape: tuple[int, int, int], model: str, field: str) -> None:
        """The disc must fit inside the latent and the channel exist; else a UserError."""
        channels, height, width = shape
        if 2 * self.radius >= min(height, width):
            raise UserError(
                f"Tree-Ring radius {self.radius} does not fit the {height}x{width} latent of "
                f"model '{model}'",
                field=f"{field}.radius",
                fix=f"use a radius below {min(height, width) // 2} for this model",
            )
        if self.channel >= channels:
            raise UserError(
                f"Tree-Ring channel {self.channel} does not exist: model '{model}' has "
                f"{channels} latent channels",
                field=f"{field}.channel",
                fix=f"use a channel from 0 to {channels - 1}, or -1 for all of them",
            )


def circle_mask(height: int, width: int, radius: int) -> np.ndarray:
    """Frequencies within `radius` of the zero frequency of an fftshifted (height, width)
    transform, which sits at (height // 2, width // 2)."""
    rows, cols = np.ogrid[:height, :width]
    return np.asarray((rows - height // 2) ** 2 + (cols - width // 2) ** 2 <= radius**2)


def watermark_mask(shape: tuple[int, int, int], key: TreeRingKey) -> np.ndarray:
    """(channels, height, width) booleans: the disc in the key's channel, or in all."""
    channels, height, width = shape
    mask = np.zeros(shape, dtype=bool)
    disc = circle_mask(height, width, key.radius)
    if key.channel == -1:
        mask[:] = disc
    else:
        mask[key.channel] = disc
    return mask


def shifted_fft(latents: np.ndarray) -> np.ndarray:
    """The centred 2-D Fourier transform over the last two axes (zero frequency at H//2)."""
    return np.fft.fftshift(np.fft.fft2(latents.astype(np.float64)), axes=(-2, -1))


def key_pattern(shape: tuple[int, int, int], key: TreeRingKey) -> np.ndarray:
    """The key's target Fourier values (complex, shifted layout; meaningful inside the mask).

    As the reference's 'ring' pattern: a Gaussian latent drawn from `key_seed`, its shifted
    transform, and from the outermost ring inwards each disc of radius r set, per channel,
    to the value at row 0, column r; here its real part (see the module docstring).
    """
    import torch

    channels, height, width = shape
    generator = torch.Generator("cpu").manual_seed(key.key_seed)
    seed_latent = torch.randn((1, *shape), generator=generator).numpy()[0]
    spectrum = shifted_fft(seed_latent)
    pattern = np.zeros(shape, dtype=np.complex128)
    for r in range(key.radius, 0, -1):
        disc = circle_mask(height, width, r)
        for c in range(channels):
            pattern[c][disc] = spectrum[c, 0, r].real
    return pattern


def inject(latents: np.ndarray, key: TreeRingKey) -> np.ndarray:
    """Latents (channels, height, width) with the key written into their masked Fourier
    values; every other Fourier value unchanged (the reference's 'complex' injection)."""
    shape = latents.shape
    mask = watermark_mask(shape, key)
    spectrum = shifted_fft(latents)
    spectrum[mask] = key_pattern(shape, key)[mask]
    out = np.fft.ifft2(np.fft.ifftshift(spectrum, axes=(-2, -1))).real
    return out.astype(latents.dtype)


def independent_mask(mask: np.ndarray) -> np.ndarray:
    """Of each conjugate pair (f, -f) in the mask one member, and not the zero frequency:
    the coefficients of a real latent's transform that vary independently."""
    _, height, width = mask.shape
    rows, cols = np.ogrid[:height, :width]
    fr, fc = rows - height // 2, cols - width // 2  # frequencies of the shifted layout
    upper = (fr > 0) | ((fr == 0) & (fc > 0))  # one half-plane, zero frequency excluded
    return mask & upper[None]


def distance(reversed_latents: np.ndarray, key: TreeRingKey) -> float:
    """Mean absolute difference to the key over the masked Fourier values (the reference's
    'l1_complex' measurement): small for marked images."""
    mask = watermark_mask(reversed_latents.shape, key)
    target = key_pattern(reversed_latents.shape, key)
    return float(np.abs(shifted_fft(reversed_latents)[mask] - target[mask]).mean())


def chi_square_p_value(values: np.ndarray, target: np.ndarray) -> float:
    """The reference's `get_p_value` on given Fourier values: with sigma the spread of their
    real and imaginary parts, the probability that unmarked noise (Gaussian, mean 0) lies as
    close to the target: a non-central chi-square CDF."""
    from scipy.stats import ncx2

    x = np.concatenate([values.real, values.imag])
    t = np.concatenate([target.real, target.imag])
    sigma = float(x.std(ddof=1))  # torch.std, as the reference: Bessel-corrected
    if sigma == 0.0:
        return 1.0  # a flat latent carries no evidence either way
    nc = float((t**2).sum() / sigma**2)
    statistic = float((((x - t) / sigma) ** 2).sum())
    return float(ncx2.cdf(statistic, df=len(t), nc=nc))


def p_value(reversed_latents: np.ndarray, key: TreeRingKey) -> float:
    """P-value of "this latent is unmarked noise": small when it holds the key."""
    mask = independent_mask(watermark_mask(reversed_latents.shape, key))
    target = key_pattern(reversed_latents.shape, key)
    return chi_square_p_value(shifted_fft(reversed_latents)[mask], target[mask])


# --- with a diffusers pipeline -----------------------------------------------------------


def latent_shape(pipe: Any, width: int, height: int) -> tuple[int, int, int]:
    """(channels, height, width) of the initial latents a UNet pipeline draws for an image."""
    unet = getattr(pipe, "unet", None)
    factor = getattr(pipe, "vae_scale_factor", None)
    if unet is None or factor is None:
        raise UserError(
            f"Tree-Ring watermarks need a UNet latent-diffusion pipeline; "
            f"{type(pipe).__name__} is not one",
            field="provenance.watermark",
            fix="watermark only Stable Diffusion-style models (list them in "
            "provenance.watermark.models)",
        )
    return int(unet.config.in_channels), int(height) // int(factor), int(width) // int(factor)


def initial_latents(
    shape: tuple[int, int, int], seeds: list[int], keys: list[TreeRingKey | None], dtype: Any
) -> Any:
    """A batch of initial latents: each image's noise exactly as diffusers draws it from a
    CPU generator seeded with the image's seed, then its key (if any) injected."""
    import torch

    out = []
    for seed, key in zip(seeds, keys, strict=True):
        generator = torch.Generator("cpu").manual_seed(seed)
        noise = torch.randn((1, *shape), generator=generator, dtype=dtype)  # as diffusers
        if key is not None:
            marked = inject(noise[0].float().numpy(), key)
            noise = torch.from_numpy(marked)[None].to(dtype)
        out.append(noise)
    return torch.cat(out)


def image_tensor(image: Any, device: Any, dtype: Any) -> Any:
    """An RGB PIL image as the (1, 3, H, W) tensor in [-1, 1] a VAE encodes."""
    import torch

    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    return (tensor * 2.0 - 1.0).to(device=device, dtype=dtype)


def invert(pipe: Any, images: list[Any], steps: int) -> np.ndarray:
    """The initial noise DDIM sampling would have started from to give each image: encode
    (the encoder's mean), then run DDIM backwards for `steps` steps with an empty prompt at
    guidance 1, as the reference does (the prompt is not known at detection time).

    Returns (n, channels, height, width) float64 latents."""
    import torch
    from diffusers import DDIMInverseScheduler

    if not hasattr(pipe, "encode_prompt") or getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError(
            f"Tree-Ring detection inverts Stable Diffusion 1.x/2.x-style pipelines only; "
            f"{type(pipe).__name__} is not one",
            field="scorers.treering.model",
            fix="give a Stable Diffusion 1.x/2.x model to invert with",
        )
    config = dict(pipe.scheduler.config)
    if config.get("timestep_spacing") not in ("leading", "trailing"):
        config["timestep_spacing"] = "leading"
    inverse = DDIMInverseScheduler.from_config(config)
    device, dtype = pipe._execution_device, pipe.unet.dtype
    with torch.no_grad():
        embeds = pipe.encode_prompt("", device, 1, False)[0]
        batch = torch.cat([image_tensor(img, device, pipe.vae.dtype) for img in images])
        latents = pipe.vae.encode(batch).latent_dist.mode()
        shift = getattr(pipe.vae.config, "shift_factor", None) or 0.0
        latents = ((latents - shift) * pipe.vae.config.scaling_factor).to(dtype)
        embeds = embeds.expand(len(images), *embeds.shape[1:])
        inverse.set_timesteps(steps, device=device)
        for t in inverse.timesteps:
            eps = pipe.unet(latents, t, encoder_hidden_states=embeds).sample
            latents = inverse.step(eps, t, latents).prev_sample
    out: np.ndarray = latents.detach().to("cpu", torch.float64).numpy()
    return out
