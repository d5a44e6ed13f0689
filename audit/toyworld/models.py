"""Architectures of the toy Stable-Diffusion components, as diffusers/transformers configs.

`Config` picks the sizes and the training schedule:

* `default` fits the documented budget of 90 minutes on 2 CPU cores: a 0.24 M-parameter VAE,
  and a UNet with attention only at its 8x8 and 4x4 levels (self-attention over the 16x16
  latent doubled the step time on CPU), trained on batches that favour the two-object scenes
  the model finds hardest, with Min-SNR loss weighting.
* `large` is the earlier, GPU-sized config (attention at 16x16 and 8x8, batch 128).
* `tiny` exists so a test can run the whole training command in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Config:
    name: str
    vae_channels: tuple[int, ...]
    unet_channels: tuple[int, ...]
    text_width: int
    text_layers: int
    vae_steps: int
    unet_steps: int
    weak_step: int  # the early checkpoint kept as `toy-shapes-weak`
    clip_steps: int
    batch: int
    dataset: int
    lr: float = 1e-3
    save_every: int = 250
    # which UNet levels (16x16, 8x8, 4x4 latents) carry cross-attention to the caption
    unet_attention: tuple[bool, ...] = (True, True, False)
    vae_batch: int = 0  # 0: same as `batch`
    # sampling weights of (count, pair, glyph) scenes in a batch; None: as rendered (50/35/15)
    mixture: tuple[float, float, float] | None = None
    min_snr: float | None = None  # Min-SNR-gamma loss weighting (Hang et al., 2023); None: off


CONFIGS: dict[str, Config] = {
    "default": Config(
        name="default",
        vae_channels=(16, 32, 32),
        unet_channels=(64, 96, 112),
        unet_attention=(False, True, True),
        text_width=64,
        text_layers=2,
        vae_steps=900,
        vae_batch=32,
        unet_steps=5200,
        weak_step=500,
        clip_steps=2500,
        batch=64,
        dataset=60000,
        mixture=(0.4, 0.45, 0.15),
        min_snr=5.0,
        save_every=500,
    ),
    "large": Config(
        name="large",
        vae_channels=(32, 64, 64),
        unet_channels=(64, 96, 128),
        text_width=64,
        text_layers=2,
        vae_steps=2000,
        unet_steps=12000,
        weak_step=800,
        clip_steps=2500,
        batch=128,
        dataset=80000,
        save_every=1000,
    ),
    "tiny": Config(
        name="tiny",
        vae_channels=(8, 16, 16),
        unet_channels=(16, 16, 32),
        text_width=16,
        text_layers=1,
        vae_steps=3,
        unet_steps=4,
        weak_step=2,
        clip_steps=3,
        batch=4,
        dataset=32,
        save_every=2,
        unet_attention=(False, True, True),
        vae_batch=2,
        mixture=(0.4, 0.45, 0.15),
        min_snr=5.0,
    ),
}


def groups(channels: tuple[int, ...]) -> int:
    g = 8
    while any(c % g for c in channels):
        g //= 2
    return g


def make_vae(cfg: Config) -> Any:
    from diffusers import AutoencoderKL

    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=cfg.vae_channels,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=groups(cfg.vae_channels),
        sample_size=64,
    )


def make_text_encoder(cfg: Config, vocab_size: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    from audit.toyworld.vocab import MAX_LENGTH

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.text_width,
        intermediate_size=cfg.text_width * 2,
        num_hidden_layers=cfg.text_layers,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        projection_dim=cfg.text_width,
    )
    return CLIPTextModel(config)


def make_unet(cfg: Config) -> Any:
    from diffusers import UNet2DConditionModel

    att = cfg.unet_attention
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in att)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(att))
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=cfg.unet_channels,
        layers_per_block=1,
        cross_attention_dim=cfg.text_width,
        attention_head_dim=8,
        norm_num_groups=groups(cfg.unet_channels),
    )


def make_scheduler() -> Any:
    """Stable Diffusion's DDIM settings; the audit swaps samplers from this config."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )
