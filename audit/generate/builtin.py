"""Built-in models (`builtin:NAME`), materialised as ordinary diffusers directories.

Random-weight models are built from configs in code with a fixed seed and saved once into a
cache folder; from then on they load through exactly the same `from_pretrained` path as any
local diffusers directory. A package may add models whose weights it ships (a `BuiltinModel`
with `shipped_dir`) through the `t2i_audit.models` entry-point group; the reference world
registers its trained models so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.generate.native_size import Size, native_of_dir
from audit.registry import Registry

BUILD_VERSION = 1  # bump when a random model's config or seed changes
BUILTIN_PREFIX = "builtin:"

SD_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "clip_sample": False,
    "set_alpha_to_one": False,
}


# The VAE and CLIP ViT-L text encoder shared by SD 1.x and SDXL (their published configs).
SD_VAE: dict[str, Any] = dict(
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    layers_per_block=2,
    latent_channels=4,
)
CLIP_L_TEXT: dict[str, Any] = dict(
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_hidden_layers=12,
    hidden_act="quick_gelu",
)


def cache_root() -> Path:
    return Path(os.environ.get("T2I_AUDIT_CACHE", Path.home() / ".cache" / "t2i-audit"))


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    description: str
    build: Callable[[Path, str], None] | None  # (out_dir, device) -> None; None = shipped
    shipped_dir: Path | None = None
    scheduler: str = "DDIMScheduler"  # native scheduler, known without building the model
    missing_fix: str = "reinstall the package that provides it"  # shipped weights are absent
    # (width, height) diffusers would default to, known without building the model; shipped
    # models need not say: their configs are read.
    native_size: Size | None = None


def _native(sample_size: int, vae_blocks: list[int]) -> Size:
    """diffusers' default resolution: sample_size * 2 ** (len(vae.block_out_channels) - 1)."""
    side = sample_size * 2 ** (len(vae_blocks) - 1)
    return side, side


TINY_UNET_SAMPLE, TINY_VAE_BLOCKS = 32, [32, 64]
SD15_UNET_SAMPLE = 64


def _clip_text_config(**overrides: Any) -> Any:
    from transformers import CLIPTextConfig

    base = dict(
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
        vocab_size=49408,
        max_position_embeddings=77,
    )
    base.update(overrides)
    return CLIPTextConfig(**base)


def _save_sd_pipeline(
    out_dir: Path, unet: Any, vae: Any, text_encoder: Any, scheduler: Any, **extra: Any
) -> None:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    from audit.generate.tokenizer import write_clip_tokenizer_files

    tok_dir = out_dir / "_tok"
    write_clip_tokenizer_files(tok_dir)
    tokenizer = CLIPTokenizer(
        str(tok_dir / "vocab.json"),
        str(tok_dir / "merges.txt"),
        pad_token="<|endoftext|>",
        model_max_length=77,
    )
    if "text_encoder_2" in extra:
        pipe: Any = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=extra["text_encoder_2"],
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
    else:
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.save_pretrained(out_dir, safe_serialization=True)
    shutil.rmtree(tok_dir)


def _build_tiny_random_sd(out_dir: Path, device: str) -> None:
    """The tiny-components fixture of diffusers' own tests, with a real CLIP tokenizer."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=TINY_UNET_SAMPLE,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=TINY_VAE_BLOCKS,
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=32,
    )
    text_encoder = CLIPTextModel(
        _clip_text_config(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=5
        )
    )
    _save_sd_pipeline(out_dir, unet, vae, text_encoder, DDIMScheduler(**SD_SCHEDULER))


def _init_device(device: str) -> Any:
    import torch

    # Random init of a billion parameters is minutes on a CPU and seconds on a GPU.
    return torch.device("cuda" if device.startswith("cuda") else "cpu")


def _build_sd15_arch(out_dir: Path, device: str) -> None:
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    with _init_device(device):
        unet = UNet2DConditionModel(sample_size=SD15_UNET_SAMPLE, cross_attention_dim=768)
        vae = AutoencoderKL(**SD_VAE, sample_size=512)
        text_encoder = CLIPTextModel(_clip_text_config(**CLIP_L_TEXT, projection_dim=768))
    for m in (unet, vae, text_encoder):
        m.to(torch.float16)
    scheduler = PNDMScheduler(**SD_SCHEDULER, skip_prk_steps=True)
    _save_sd_pipeline(out_dir, unet, vae, text_encoder, scheduler)


def sdxl_unet_config() -> dict[str, Any]:
    return dict(
        sample_size=128,
        block_out_channels=(320, 640, 1280),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        cross_attention_dim=2048,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        use_linear_projection=True,
        layers_per_block=2,
    )


def _build_sdxl_arch(out_dir: Path, device: str) -> None:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    with _init_device(device):
        unet = UNet2DConditionModel(**sdxl_unet_config())
        vae = AutoencoderKL(**SD_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
        text_encoder = CLIPTextModel(_clip_text_config(**CLIP_L_TEXT))
        text_encoder_2 = CLIPTextModelWithProjection(
            _clip_text_config(
                hidden_size=1280,
                intermediate_size=5120,
                num_attention_heads=20,
                num_hidden_layers=32,
                projection_dim=1280,
                hidden_act="gelu",
            )
        )
    for m in (unet, vae, text_encoder, text_encoder_2):
        m.to(torch.float16)
    scheduler = EulerDiscreteScheduler(
        **{k: v for k, v in SD_SCHEDULER.items() if k not in {"clip_sample", "set_alpha_to_one"}},
        timestep_spacing="leading",
    )
    _save_sd_pipeline(out_dir, unet, vae, text_encoder, scheduler, text_encoder_2=text_encoder_2)


MODELS: Registry[BuiltinModel] = Registry(
    "built-in model",
    group="t2i_audit.models",
    base=BuiltinModel,
    instances=True,
    field="source",
    prefix=BUILTIN_PREFIX,
)
for _model in [
    BuiltinModel(
        "tiny-random-sd",
        "tiny Stable Diffusion, random weights (seed 0); for tests and smoke runs",
        _build_tiny_random_sd,
        native_size=_native(TINY_UNET_SAMPLE, TINY_VAE_BLOCKS),
    ),
    BuiltinModel(
        "sd15-arch-random",
        "Stable Diffusion 1.5 architecture, random fp16 weights; for GPU timing",
        _build_sd15_arch,
        scheduler="PNDMScheduler",
        native_size=_native(SD15_UNET_SAMPLE, SD_VAE["block_out_channels"]),
    ),
    BuiltinModel(
        "sdxl-arch-random",
        "Stable Diffusion XL architecture, random fp16 weights; for GPU timing",
        _build_sdxl_arch,
        scheduler="EulerDiscreteScheduler",
        native_size=_native(sdxl_unet_config()["sample_size"], SD_VAE["block_out_channels"]),
    ),
]:
    MODELS.register(_model.name, _model)


def builtin_names() -> list[str]:
    return MODELS.names()


def builtin_fingerprint(name: str) -> str | None:
    """Random models are fixed by name + build version; shipped ones are hashed like any dir."""
    model = MODELS.get(name)
    return None if model.build is None else f"{BUILTIN_PREFIX}{name}@v{BUILD_VERSION}"


def builtin_native_scheduler(name: str) -> str | None:
    model = MODELS.get(name)
    return model.scheduler if model.build is not None else None


def builtin_native_size(name: str) -> Size | None:
    """The declared native size, else the one in the shipped or already built configs."""
    model = MODELS.get(name)
    if model.native_size is not None:
        return model.native_size
    folder = model.shipped_dir if model.build is None else _cached_dir(name)
    return native_of_dir(folder) if folder is not None else None


def _cached_dir(name: str) -> Path | None:
    target = cache_root() / "builtin" / f"{name}-v{BUILD_VERSION}"
    return target if (target / "model_index.json").is_file() else None


def builtin_available(name: str) -> bool:
    """Whether `name` is registered and, if its weights ship, they are installed (no build)."""
    if name not in MODELS:
        return False
    model = MODELS.get(name)
    return model.build is not None or (
        model.shipped_dir is not None and (model.shipped_dir / "model_index.json").is_file()
    )


def resolve_builtin(name: str, device: str = "cpu") -> Path:
    """The diffusers directory of a built-in model, building and caching it if needed."""
    model = MODELS.get(name)
    if model.build is None:
        if model.shipped_dir is None or not (model.shipped_dir / "model_index.json").is_file():
            raise UserError(
                f"the weights of {BUILTIN_PREFIX}{name} are not in this installation",
                field="source",
                fix=model.missing_fix,
            )
        return model.shipped_dir
    target = cache_root() / "builtin" / f"{name}-v{BUILD_VERSION}"
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a crash never leaves a half-written model.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.build(tmp, device)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race; its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
