"""The documented training command, run for a handful of steps on the tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_training_command_writes_loadable_pipelines(tmp_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from audit.cli.toyworld import train_main
    from audit.toyworld import toyclip

    assert train_main(["--config", "tiny", "--out", str(tmp_path), "--seed", "3"]) == 0
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

    from audit.cli.toyworld import train_main

    for run in ("a", "b"):
        train_main(["--config", "tiny", "--out", str(tmp_path / run), "--stages", "vae,unet"])
    weights = "toy-shapes/unet/diffusion_pytorch_model.safetensors"
    a, b = load_file(str(tmp_path / "a" / weights)), load_file(str(tmp_path / "b" / weights))
    assert all((a[k] == b[k]).all() for k in a)


@pytest.mark.slow
def test_validate_rows_on_freshly_trained_tiny_weights(tmp_path: Path) -> None:
    from audit.cli.toyworld import train_main
    from audit.toyworld import validate

    train_main(["--config", "tiny", "--out", str(tmp_path)])
    rows = validate.validate(
        n_reader=30,
        steps=(1, 2),
        guidance=3.0,
        also_guidance=(1.5,),
        sampler="euler_a",
        seeds=(0,),
        n_reference=20,
        weights=tmp_path,
        categories=["counting"],
    )
    reader = {r["metric"]: r["value"] for r in rows if r["check"] == "reader"}
    assert reader == {"count_accuracy": 1.0, "color_accuracy": 1.0, "position_accuracy": 1.0}
    suite = [r for r in rows if r["check"] == "suite"]
    assert {(r["model"], r["steps"], r["guidance"]) for r in suite} == {
        ("builtin:toy-shapes", 1, 3.0),
        ("builtin:toy-shapes", 2, 3.0),
        ("builtin:toy-shapes", 2, 1.5),
        ("builtin:toy-shapes-weak", 2, 3.0),
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


def test_min_snr_weights_only_the_low_noise_timesteps() -> None:
    import torch

    from audit.toyworld import models, train

    alpha_bar = models.make_scheduler().alphas_cumprod
    w = train.loss_weights(alpha_bar, 5.0)
    snr = alpha_bar / (1 - alpha_bar)
    assert torch.allclose(w[snr <= 5], torch.ones_like(w[snr <= 5]))
    assert torch.allclose(w[snr > 5], 5 / snr[snr > 5])
    assert 0 < w.min() < 0.01  # the cleanest timestep counts for little
    assert (train.loss_weights(alpha_bar, None) == 1).all()


def test_batches_follow_the_config_mixture(tmp_path: Path) -> None:
    import dataclasses

    import torch

    from audit.toyworld import models, train, vocab

    cfg = dataclasses.replace(models.CONFIGS["tiny"], dataset=400, mixture=(0.2, 0.7, 0.1))
    data = train.Data(cfg, 0, vocab.build_tokenizer(tmp_path / "tok"), "cpu")
    idx, x, ids = data.batch(torch.Generator().manual_seed(0), 6000)
    kinds = [data.scenes[i].kind for i in idx.tolist()]
    shares = [kinds.count(k) / len(kinds) for k in ("count", "pair", "glyph")]
    assert max(abs(a - b) for a, b in zip(shares, (0.2, 0.7, 0.1), strict=True)) < 0.03
    assert x.shape == (6000, 3, 64, 64) and ids.shape[0] == 6000
    # the rendered mixture is about 50/35/15, so the weights really moved it
    natural = [s.kind for s in data.scenes]
    assert natural.count("pair") / len(natural) < 0.5


def test_validate_rejects_an_unknown_sampler_before_any_work(tmp_path: Path) -> None:
    from audit.errors import UserError
    from audit.toyworld import validate

    with pytest.raises(UserError, match="unknown sampler 'eulr'"):
        validate.validate(sampler="eulr", weights=tmp_path)


def test_cli_validate_takes_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from audit.cli import main

    assert main(["toyworld", "validate", "--sampler", "eulr", "--seeds", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown sampler 'eulr'" in err and "--sampler" in err
