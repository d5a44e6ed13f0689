"""Built-in models: real architectures in code, loaded like any local diffusers directory."""

from __future__ import annotations

import json

import pytest

from audit.config import parse_spec
from audit.errors import UserError
from audit.generate.builtin import resolve_builtin, sdxl_unet_config
from audit.generate.models import (
    check_model_sources,
    dir_fingerprint,
    fingerprint,
    native_scheduler,
)


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


def _spec(*sources: str):  # type: ignore[no-untyped-def]
    models = [{"id": f"m{i}", "source": s} for i, s in enumerate(sources)]
    data = {"name": "x", "models": models, "suites": ["counting"], "samplers": ["ddim"]}
    return parse_spec({**data, "steps": [2], "guidance": [1.0], "seeds": [0]})


def test_model_sources_are_checked_without_building(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "local").mkdir()
    ok = _spec("builtin:tiny-random-sd", "builtin:toy-shapes", "./local", "org/hub-id")
    check_model_sources(ok, tmp_path, "spec.yaml")
    with pytest.raises(UserError, match="unknown built-in model 'builtin:nope'") as err:
        check_model_sources(_spec("builtin:tiny-random-sd", "builtin:nope"), tmp_path, "s.yaml")
    assert err.value.field == "models.1.source" and err.value.file == "s.yaml"
    assert "builtin:toy-shapes" in (err.value.fix or "")  # plugin models are listed too
    with pytest.raises(UserError, match="local model directory not found") as err:
        check_model_sources(_spec("./absent"), tmp_path, "s.yaml")
    assert err.value.field == "models.0.source"
