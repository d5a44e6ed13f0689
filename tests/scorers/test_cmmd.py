"""CmmdScorer: the reference code's numbers, its preprocessing, a tiny transformers CLIP
scoring an ingested run offline, and what `doctor` says about it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from audit.scorers.base import missing
from audit.scorers.cmmd import CLIP_MODEL, CmmdOptions, CmmdScorer, mmd, unit_rows
from audit.scorers.features import CLIP_MEAN, CLIP_STD, ExtractorSpec, PilBicubic, make_extractor
from audit.scorers.reference import build_reference
from tests.scorers.tiny_hf_clip import build_tiny_clip

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fixed random features (numpy's PCG64 streams, stable across numpy versions)."""
    rng = np.random.default_rng(20260101)
    a = _unit(rng.normal(size=(60, 32)))
    b = _unit(rng.normal(size=(40, 32)) + 0.3)
    rng = np.random.default_rng(7)
    c = _unit(rng.normal(size=(128, 768)))
    d = _unit(rng.normal(size=(96, 768)) * np.linspace(0.5, 1.5, 768))
    rng = np.random.default_rng(3)
    e = rng.normal(size=(50, 8)) * 4.0
    f = rng.normal(size=(50, 8)) * 4.0 + 1.0
    return {
        "unit_60x32_vs_40x32": (a, b),
        "unit_128x768_vs_96x768": (c, d),
        "raw_50x8_vs_50x8": (e, f),
        "same_set": (a, a),
    }


# Recorded from the reference implementation: google-research/google-research
# cmmd/distance.py at commit 4c4299485319ed72ef782020c81784be5468924e, its `mmd(x, y)` run on
# the arrays of `_cases()` with jax 0.10.2 / numpy 2.4.6 (CPU), once with
# jax.config.update("jax_enable_x64", True) (float64) and once as shipped (JAX's float32
# default, arrays cast to float32).
REFERENCE_X64 = {
    "unit_60x32_vs_40x32": 1.0758505230444728,
    "unit_128x768_vs_96x768": 0.16795411520794187,
    "raw_50x8_vs_50x8": 34.649284942874246,
    "same_set": -3.2822594293723055e-14,
}
REFERENCE_F32 = {
    "unit_60x32_vs_40x32": 1.0765153169631958,
    "unit_128x768_vs_96x768": 0.16802608966827393,
    "raw_50x8_vs_50x8": 34.64915084838867,
    "same_set": -3.94758208130952e-05,
}


@pytest.mark.parametrize("case", sorted(REFERENCE_X64))
def test_mmd_equals_the_reference_code(case: str) -> None:
    x, y = _cases()[case]
    ours = mmd(x, y)
    assert abs(ours - REFERENCE_X64[case]) < 1e-6
    # The code as shipped computes in float32: 1000 x (a difference of three means near 1)
    # loses about 1e-3 there, which is how far its numbers sit from the float64 ones.
    assert abs(ours - REFERENCE_F32[case]) < 1e-3


def test_scorer_streams_normalises_and_gives_an_interval() -> None:
    x, y = _cases()["unit_128x768_vs_96x768"]
    scorer = CmmdScorer(CmmdOptions(reference="unused", extractor="toyclip", bootstrap=50))
    scorer.use_reference(3.0 * y)  # rows are made unit vectors: the scale does not matter
    for start in range(0, len(x), 37):  # batches of any size give the same number
        scorer.update_features(x[start : start + 37] * 2.0)
    values = scorer.compute()
    assert abs(values["cmmd_toyclip"] - REFERENCE_X64["unit_128x768_vs_96x768"]) < 1e-9
    low, high = values["cmmd_toyclip_ci_low"], values["cmmd_toyclip_ci_high"]
    assert low < values["cmmd_toyclip"] < high
    scorer.reset()
    scorer.update_features(x[:1])
    assert all(v is None for v in scorer.compute().values())  # no number from one image
    unscaled = CmmdScorer(CmmdOptions(reference="unused", normalize=False, bootstrap=0))
    e, f = _cases()["raw_50x8_vs_50x8"]
    unscaled.use_reference(f)
    unscaled.update_features(e)
    out = unscaled.compute()
    assert abs(out["cmmd"] - REFERENCE_X64["raw_50x8_vs_50x8"]) < 1e-6
    assert out["cmmd_ci_low"] is None


def test_metrics_carry_direction_and_name_the_extractor() -> None:
    default = CmmdScorer(CmmdOptions(reference="r"))
    assert [(m.name, m.direction) for m in default.metrics()] == [
        ("cmmd", "lower"),
        ("cmmd_ci_low", "none"),
        ("cmmd_ci_high", "none"),
    ]
    assert default.extractor_spec().model == CLIP_MODEL == "openai/clip-vit-large-patch14-336"
    dino = CmmdScorer(CmmdOptions(reference="r", extractor="dinov2", model="facebook/dinov2-base"))
    assert dino.metrics()[0].name == "cmmd_dinov2"
    assert dino.extractor_spec().options["model"] == "facebook/dinov2-base"


def _reference_preprocess(image: Image.Image, size: int) -> np.ndarray:
    """google-research/google-research cmmd/io_util.py (_center_crop_and_resize, _read_image,
    the / 255 of compute_embeddings_for_dir) and embedding.py (_clip_preprocess: a bicubic
    resize to the size it already has, then scenic's normalize_image), step by step."""
    w, h = image.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    im = image.crop((left, top, left + side, top + side))
    im = im.resize((size, size), resample=Image.BICUBIC)
    x = np.asarray(im).astype(np.float32) / 255.0
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    return ((x - mean) / std).astype(np.float32)


def test_native_preprocessing_is_the_reference_codes() -> None:
    rng = np.random.default_rng(0)
    for shape in [(50, 70, 3), (90, 40, 3), (336, 336, 3)]:
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        ours = PilBicubic(336, CLIP_MEAN, CLIP_STD, crop=True)(image).numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(ours, _reference_preprocess(image, 336), atol=2e-6)


def _pngs(folder: Path, n: int, seed: int, tint: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        arr = np.clip(rng.integers(0, 200, (40, 48, 3)) + tint, 0, 255).astype(np.uint8)
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(arr).save(paths[-1])
    return paths


def test_tiny_clip_directory_scores_an_ingested_run_offline(
    tiny_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default extractor's code path (transformers CLIP from a directory, as from a hub
    id) on a tiny random CLIP: reference built, run ingested, `score --scorers cmmd`."""
    import audit
    from audit.cli import main
    from audit.scorers import clip_hf

    # One scoring process (worker start-up would dominate); the partial / merge protocol
    # that parallel scoring uses is checked at the end.
    monkeypatch.setenv("T2I_AUDIT_WORKERS", "1")

    model_dir = tiny_clip
    real = _pngs(tmp_path / "real", 12, seed=1, tint=40)
    spec = {"kind": "clip", "model": str(model_dir), "resize": "native"}
    ref = build_reference(tmp_path / "real", "tinyref", tmp_path, spec, progress=False)

    fake = _pngs(tmp_path / "fake", 8, seed=2, tint=0)
    lines = [
        json.dumps({"file": p.name, "prompt": "a thing", "seed": i}) for i, p in enumerate(fake)
    ]
    (tmp_path / "fake" / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(tmp_path / "fake"), "--out", str(run), "--quiet"]) == 0
    options = tmp_path / "options.yaml"
    options.write_text(f"cmmd: {{reference: {ref}, model: {model_dir}, bootstrap: 20}}\n")
    assert main(["score", str(run), "--scorers", "cmmd", "--options", str(options), "-q"]) == 0

    opened = audit.open_run(run)
    sets = opened.sets
    got = float(sets.loc[sets["metric"] == "cmmd", "value"].iloc[0])
    assert opened.metrics["cmmd"].direction == "lower"

    # The same number from the library called directly: transformers' image features of the
    # reference's preprocessing, made unit, through the reference's formula.
    model, processor, _ = clip_hf.HFClipSource(str(model_dir)).load("cpu")

    def embed(paths: list[Path]) -> np.ndarray:
        prep = PilBicubic(
            32, processor.image_processor.image_mean, processor.image_processor.image_std, crop=True
        )
        pixels = torch.stack([prep(Image.open(p).convert("RGB")) for p in paths])
        with torch.no_grad():
            z = clip_hf.features(model.get_image_features(pixel_values=pixels))
        return unit_rows(z.double().numpy())

    assert abs(got - mmd(embed(fake), embed(real))) < 1e-5

    # Parallel scoring's protocol: chunk states embedded by one instance, merged in order by
    # another that loaded no model, give the same values as `update`.
    from audit.scorers.base import ScoreItem

    items = [ScoreItem(p.stem, p, "a thing", "p0", None) for p in fake]
    opts = CmmdOptions(reference=str(ref), model=str(model_dir), bootstrap=20)
    worker, driver, plain = CmmdScorer(opts), CmmdScorer(opts), CmmdScorer(opts)
    for chunk in (items[:3], items[3:]):
        driver.merge(worker.partial(chunk))
        plain.update(chunk)
    assert driver._extractor is None and driver.compute() == plain.compute()
    assert abs(float(plain.compute()["cmmd"]) - got) < 1e-9


def test_check_and_doctor_say_what_cmmd_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("cmmd v1") :].split("\n[")[0]
    assert "needs option 'reference'" in block and CLIP_MODEL in block and "fix:" in block

    lacking = missing(CmmdScorer.check(CmmdOptions(reference="nope", reference_root=tmp_path)))
    whats = " | ".join(r.what for r in lacking)
    assert CLIP_MODEL in whats and "not in the Hugging Face cache" in whats
    assert "reference statistics 'nope'" in whats
    assert all(r.fix for r in lacking)
    assert "snapshot_download" in lacking[0].fix


def test_reference_and_extractor_must_agree(tiny_clip: Path, tmp_path: Path) -> None:
    from audit.errors import UserError

    model_dir = tiny_clip
    _pngs(tmp_path / "real", 4, seed=1, tint=0)
    spec = ExtractorSpec(kind="clip", model=str(model_dir), resize="clean")
    ref = build_reference(tmp_path / "real", "r", tmp_path, spec, progress=False)
    assert make_extractor(spec).name == "clip:transformers-dir/tiny-clip"
    scorer = CmmdScorer(CmmdOptions(reference=str(ref), model=str(model_dir)))  # native
    with pytest.raises(UserError, match="resize"):
        scorer._setup()
