"""Without `size`, each model generates at its native resolution, as diffusers defaults to;
a size far from native is noted in the run (run.json, and returned for the CLI to print)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit.config import parse_spec
from audit.errors import UserError
from audit.generate.builtin import MODELS, builtin_native_size, resolve_builtin
from audit.generate.models import native_size
from audit.generate.native_size import ModelSize, native_from_configs, native_of_dir
from audit.sweep import plan, plan_sizes, run_sweep


def _spec(*sources: str, **extra: Any):  # type: ignore[no-untyped-def]
    models = [{"id": f"m{i}", "source": s} for i, s in enumerate(sources)]
    data = {"name": "x", "models": models, "suites": ["counting"], "samplers": ["ddim"]}
    return parse_spec({**data, "steps": [2], "guidance": [1.0], "seeds": [0], **extra})


def _write_pipeline(folder: Path, unet: dict[str, Any] | None, vae_blocks: int | None) -> Path:
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    (folder / "unet" / "config.json").write_text(json.dumps(unet or {}))
    if vae_blocks is not None:
        (folder / "vae").mkdir()
        blocks = {"block_out_channels": [128] * vae_blocks}
        (folder / "vae" / "config.json").write_text(json.dumps(blocks))
    return folder


def test_toy_shapes_without_size_makes_64_px_requests(tmp_path: Path) -> None:
    requests = plan(_spec("builtin:toy-shapes", "builtin:tiny-random-sd"), tmp_path)
    assert {(r.width, r.height) for r in requests} == {(64, 64)}
    # The spec's size, when given, wins for every model (and is part of every key).
    sized = plan(_spec("builtin:toy-shapes", size=32), tmp_path)
    assert {(r.width, r.height) for r in sized} == {(32, 32)}
    assert {r.key for r in sized}.isdisjoint(r.key for r in requests)


def test_builtin_native_sizes_are_known_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T2I_AUDIT_CACHE", str(tmp_path / "empty-cache"))
    assert builtin_native_size("sdxl-arch-random") == (1024, 1024)
    assert builtin_native_size("sd15-arch-random") == (512, 512)
    assert builtin_native_size("toy-shapes") == (64, 64)  # read from its shipped configs
    assert not (tmp_path / "empty-cache").exists()  # nothing was built


def test_declared_sizes_equal_what_the_built_configs_say() -> None:
    # The built directory is what diffusers reads; the declaration must agree with it.
    assert (
        native_of_dir(resolve_builtin("tiny-random-sd")) == MODELS.get("tiny-random-sd").native_size
    )


def test_native_size_follows_diffusers_formula(tmp_path: Path) -> None:
    # sample_size * 2 ** (len(vae.block_out_channels) - 1): SD 2.1's 96 x 8 = 768.
    sd21 = _write_pipeline(tmp_path / "sd21", {"sample_size": 96}, vae_blocks=4)
    assert native_size(str(sd21)) == (768, 768)
    assert native_size("./sd21", base_dir=tmp_path) == (768, 768)
    # A list is [height, width]; no VAE means diffusers' default factor 8.
    wide = _write_pipeline(tmp_path / "wide", {"sample_size": [32, 48]}, vae_blocks=None)
    assert native_size(str(wide)) == (384, 256)
    configs = {"transformer/config.json": {"sample_size": 128}, "vae/config.json": None}
    assert native_from_configs(configs.get) == (1024, 1024)  # SD3-style transformer
    assert native_from_configs(lambda _: None) is None


def test_hub_model_native_size_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "models--org--sdxl-like"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("c0ffee")
    _write_pipeline(repo / "snapshots" / "c0ffee", {"sample_size": 128}, vae_blocks=4)
    assert native_size("org/sdxl-like") == (1024, 1024)
    assert native_size("org/not-cached") is None  # offline: unknown, not a crash


def test_unknown_native_size_needs_an_explicit_size(tmp_path: Path) -> None:
    _write_pipeline(tmp_path / "odd", {}, vae_blocks=4)  # no sample_size anywhere
    with pytest.raises(UserError, match="native resolution of model 'm1'") as err:
        plan_sizes(_spec("builtin:toy-shapes", "./odd"), tmp_path, "spec.yaml")
    assert err.value.field == "models.1.source" and err.value.file == "spec.yaml"
    assert "size:" in (err.value.fix or "")
    sizes = plan_sizes(_spec("./odd", size=256), tmp_path)
    assert sizes["m0"] == ModelSize("m0", "./odd", 256, 256, None) and sizes["m0"].note() is None


def test_far_from_native_is_noted_either_way() -> None:
    assert ModelSize("a", "s", 64, 64, (64, 64)).note() is None
    assert ModelSize("a", "s", 96, 96, (64, 64)).note() is None  # 1.5x: not far
    assert ModelSize("a", "s", 768, 1024, (1024, 1024)).note() is None
    small = ModelSize("sdxl", "builtin:sdxl-arch-random", 512, 512, (1024, 1024)).note()
    assert small is not None and "2.0x smaller than its native 1024x1024" in small
    large = ModelSize("toy", "builtin:toy-shapes", 512, 512, (64, 64)).note()
    assert large is not None and "8.0x larger" in large and "drop `size`" in large


@pytest.mark.slow
def test_a_run_far_from_native_writes_the_note_and_returns_it(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a red cube\n")
    spec = parse_spec(
        {
            "name": "far",
            "models": [{"id": "tiny", "source": "builtin:tiny-random-sd"}],
            "samplers": ["ddim"],
            "steps": [1],
            "guidance": [1.0],
            "seeds": [0],
            "suites": ["p.txt"],
            "size": 16,
        }
    )
    result = run_sweep(spec, tmp_path, tmp_path / "out", quiet=True, score=False)
    notes = [n for n in result.notes if "model 'tiny'" in n]
    assert len(notes) == 1 and "16x16, 4.0x smaller than its native 64x64" in notes[0]
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["notes"] == notes
