"""The `dinov2` extractor: a tiny random Dinov2Model saved as a hub model would be, loaded by
path; its features are dgm-eval's, and the set scores on them are fd_dinov2 / kid_dinov2 /
cmmd_dinov2 (never "fid")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from audit.scorers.base import missing
from audit.scorers.cmmd import CmmdOptions, CmmdScorer
from audit.scorers.dinov2 import DEFAULT_MODEL, dinov2_extractor
from audit.scorers.features import ExtractorSpec, extractor_loads, make_extractor
from audit.scorers.fid import FidOptions, FidScorer
from audit.scorers.reference import build_reference

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_dino(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dinov2Model of the real architecture (patch 14, layer-scale, CLS + patch tokens), two
    layers 32 wide, random weights; saved with save_pretrained (safetensors)."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        mlp_ratio=2,
        patch_size=14,
        image_size=70,  # 5 x 5 patches; 224 px inputs interpolate its positions, as the hub's 518
    )
    out = tmp_path_factory.mktemp("dino") / "tiny-dinov2"
    Dinov2Model(config).eval().save_pretrained(out)
    return out


def _images(n: int, seed: int, tint: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(40, 40), (48, 30), (64, 64)]
    return [
        Image.fromarray(
            np.clip(rng.integers(0, 200, (*sizes[i % 3], 3)) + tint, 0, 255).astype(np.uint8)
        )
        for i in range(n)
    ]


def test_features_are_dgm_evals_cls_token(tiny_dino: Path) -> None:
    """Against dgm-eval's recipe (layer6ai-labs/dgm-eval dgm_eval/models/dinov2.py at
    d57a6d2d6bd613332dd21696994afff8efa78575: torchvision Resize((224, 224), BICUBIC),
    ToTensor, Normalize(ImageNet), the model's forward = the normed class token) run with
    torchvision and transformers directly."""
    import torchvision.transforms as TF
    from transformers import Dinov2Model

    images = _images(5, seed=0)
    spec = ExtractorSpec(kind="dinov2", resize="native", options={"model": str(tiny_dino)})
    extractor = make_extractor(spec)
    assert extractor.name == "dinov2:transformers-dir/tiny-dinov2" and extractor.dim == 32
    ours = extractor(images)

    transform = TF.Compose(
        [
            TF.Resize((224, 224), TF.InterpolationMode.BICUBIC),
            TF.ToTensor(),
            TF.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    model = Dinov2Model.from_pretrained(tiny_dino).eval()
    with torch.no_grad():
        out = model(pixel_values=torch.stack([transform(im) for im in images]))
    direct = out.last_hidden_state[:, 0].double().numpy()
    np.testing.assert_allclose(ours, direct, rtol=1e-4, atol=1e-5)


def test_fd_kid_and_cmmd_on_dinov2_features_of_an_ingested_run(
    tiny_dino: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit
    from audit.cli import main

    # One scoring process: worker start-up would dominate the test (test_cmmd.py checks
    # the partial / merge protocol parallel scoring uses).
    monkeypatch.setenv("T2I_AUDIT_WORKERS", "1")

    real = tmp_path / "real"
    real.mkdir()
    for i, im in enumerate(_images(10, seed=1, tint=50)):
        im.save(real / f"{i:02d}.png")
    spec = {"kind": "dinov2", "resize": "clean", "options": {"model": str(tiny_dino)}}
    ref = build_reference(real, "dino", tmp_path, spec, progress=False)

    fake = tmp_path / "fake"
    fake.mkdir()
    lines = []
    for i, im in enumerate(_images(6, seed=2)):
        im.save(fake / f"{i:02d}.png")
        lines.append(json.dumps({"file": f"{i:02d}.png", "prompt": "a thing", "seed": i}))
    (fake / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(fake), "--out", str(run), "--quiet"]) == 0
    common = f"reference: {ref}, extractor: dinov2, resize: clean"
    common += f", extractor_options: {{model: {tiny_dino}}}"
    options = tmp_path / "options.yaml"
    options.write_text(
        f"fid: {{{common}, bootstrap: 0, kid_subset_size: 4, kid_subsets: 5}}\n"
        f"cmmd: {{{common}, bootstrap: 10}}\n"
    )
    assert main(["score", str(run), "--scorers", "fid,cmmd", "--options", str(options), "-q"]) == 0

    opened = audit.open_run(run)
    values = dict(zip(opened.sets["metric"], opened.sets["value"], strict=False))
    for name in ("fd_dinov2", "kid_dinov2_mean", "cmmd_dinov2"):
        assert np.isfinite(values[name]) and opened.metrics[name].direction == "lower"
    assert values["fd_dinov2"] > 0
    assert not any("fid" in m for m in values), sorted(values)
    fid = FidScorer(FidOptions.model_validate({**_opts(ref, tiny_dino)}))
    assert not any(m.name.startswith("fid") for m in fid.metrics())


def _opts(ref: Path, model: Path) -> dict[str, object]:
    return {
        "reference": str(ref),
        "extractor": "dinov2",
        "extractor_options": {"model": str(model)},
    }


def test_identity_and_requirements(
    tiny_dino: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ExtractorSpec(kind="dinov2", options={"model": str(tiny_dino)})
    loads = extractor_loads(spec)
    assert loads["extractor"] == "dinov2" and loads["weights"].startswith("sha256:")
    assert [r.ok for r in dinov2_extractor.requirements(spec)] == [True, True]

    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub = ExtractorSpec(kind="dinov2")
    lacking = missing(dinov2_extractor.requirements(hub))
    assert len(lacking) == 1 and DEFAULT_MODEL in lacking[0].what
    assert "snapshot_download('facebook/dinov2-large'" in lacking[0].fix
    opts = CmmdOptions(reference="r", reference_root=tmp_path, extractor="dinov2")
    whats = [r.what for r in missing(CmmdScorer.check(opts))]
    assert any(DEFAULT_MODEL in w for w in whats)
    not_dino = tmp_path / "not-dino"
    not_dino.mkdir()
    (not_dino / "config.json").write_text('{"model_type": "clip"}')
    wrong = ExtractorSpec(kind="dinov2", options={"model": str(not_dino)})
    assert "is not one of dinov2" in missing(dinov2_extractor.requirements(wrong))[0].what
