"""Built-in models: real architectures in code, loaded like any local diffusers directory."""

from __future__ import annotations

import json

import pytest

from audit.errors import UserError
from audit.generate.builtin import resolve_builtin, sdxl_unet_config
from audit.generate.models import dir_fingerprint, fingerprint, native_scheduler


def test_real_architectures_have_the_published_parameter_counts() -> None:
    import torch
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):  # shapes only: no memory, no time
        sd15 = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)
        sdxl = UNet2DConditionModel(**sdxl_unet_config())
    # SD 1.5's UNet has 859.5 M parameters and SDXL's 2,567 M (diffusers model cards).
    assert round(sum(p.numel() for p in sd15.parameters()) / 1e6, 1) == 859.5
    assert round(sum(p.numel() for p in sdxl.parameters()) / 1e6) == 2567


def test_tiny_model_is_a_plain_diffusers_directory() -> None:
    path = resolve_builtin("tiny-random-sd")
    index = json.loads((path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert not list(path.rglob("*.bin")), "weights must be safetensors"
    assert list(path.rglob("*.safetensors"))
    assert native_scheduler("builtin:tiny-random-sd") == "DDIMScheduler"
    assert fingerprint("builtin:tiny-random-sd").startswith("builtin:tiny-random-sd@")


def test_local_dir_fingerprint_changes_with_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model_index.json").write_text("{}")
    (tmp_path / "w.safetensors").write_bytes(b"a" * 100)
    before = dir_fingerprint(tmp_path)
    (tmp_path / "w.safetensors").write_bytes(b"b" * 100)
    assert dir_fingerprint(tmp_path) != before


def test_unknown_builtin_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown built-in model"):
        resolve_builtin("nope")
