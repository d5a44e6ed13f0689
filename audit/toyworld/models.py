"""Architectures of the toy Stable-Diffusion components, as diffusers/transformers configs.

`Config` picks the sizes: `default` is what ships (sized for the CPU budget), `tiny` exists so
a test can run the whole training command in seconds.
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


CONFIGS: dict[str, Config] = {
    "default": Config(
        name="default",
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

    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
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
