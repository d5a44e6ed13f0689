"""The documented training command, run for a handful of steps on the tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_training_command_writes_loadable_pipelines(tmp_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from audit.toyworld import toyclip, train

    assert train.main(["--config", "tiny", "--out", str(tmp_path), "--seed", "3"]) == 0
    for name in ("toy-shapes", "toy-shapes-weak"):
        directory = tmp_path / name
        assert not list(directory.rglob("*.bin")) and list(directory.rglob("*.safetensors"))
        pipe = StableDiffusionPipeline.from_pretrained(
            str(directory), safety_checker=None, feature_extractor=None
        )
        pipe.set_progress_bar_config(disable=True)
        assert pipe.unet.dtype == pipe.text_encoder.dtype == torch.float32
        image = pipe(
            "two red circles",
            height=64,
            width=64,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
        ).images[0]
        assert image.size == (64, 64)
    assert (tmp_path / "toy-shapes" / "training.json").is_file()
    image_enc, text_fn = toyclip.load_toyclip(tmp_path / "toyclip")
    emb = image_enc(torch.rand(2, 3, 64, 64))
    assert emb.shape[0] == 2 and torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-4)
    assert text_fn(["a red circle"]).shape == (1, emb.shape[1])


@pytest.mark.slow
def test_training_is_seeded(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from audit.toyworld import train

    for run in ("a", "b"):
        train.main(["--config", "tiny", "--out", str(tmp_path / run), "--stages", "vae,unet"])
    weights = "toy-shapes/unet/diffusion_pytorch_model.safetensors"
    a, b = load_file(str(tmp_path / "a" / weights)), load_file(str(tmp_path / "b" / weights))
    assert all((a[k] == b[k]).all() for k in a)


@pytest.mark.slow
def test_validate_rows_on_freshly_trained_tiny_weights(tmp_path: Path) -> None:
    from audit.toyworld import train, validate

    train.main(["--config", "tiny", "--out", str(tmp_path)])
    rows = validate.validate(
        n_reader=30,
        steps=(1, 2),
        seeds=(0,),
        n_reference=20,
        weights=tmp_path,
        categories=["counting"],
    )
    reader = {r["metric"]: r["value"] for r in rows if r["check"] == "reader"}
    assert reader == {"count_accuracy": 1.0, "color_accuracy": 1.0, "position_accuracy": 1.0}
    suite = [r for r in rows if r["check"] == "suite"]
    assert {(r["model"], r["steps"]) for r in suite} == {
        ("builtin:toy-shapes", 1),
        ("builtin:toy-shapes", 2),
        ("builtin:toy-shapes-weak", 2),
    }
    assert {r["metric"] for r in suite} >= {"toy_count_correct", "fd_toyclip", "toyclip_matched"}
    table = validate.format_table(rows)
    assert table.splitlines()[0].split() == [
        "check",
        "model",
        "steps",
        "guidance",
        "metric",
        "value",
        "n",
    ]
    assert len(table.splitlines()) == len(rows) + 1
