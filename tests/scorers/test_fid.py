"""FidScorer end to end: against torchmetrics' FID/KID on the same feature network, the
Inception path with randomly initialised torch-fidelity weights, identity checks, check()."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image

from audit.errors import UserError
from audit.scorers.base import ScoreItem, missing
from audit.scorers.features import (
    INCEPTION_URL,
    ExtractorSpec,
    InceptionExtractor,
    extractor_kinds,
    from_module,
    inception_float_forward,
    load_inception,
    register_extractor,
)
from audit.scorers.fid import FidOptions, FidScorer
from audit.scorers.reference import build_reference

torch.set_num_threads(1)
SIZE = 32


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
    )


MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


def _tiny(spec: ExtractorSpec) -> Any:
    return from_module(_tiny_net(), "tinyfid:v1", input_size=SIZE, mean=MEAN, std=STD, device="cpu")


if "tinyfid" not in extractor_kinds():
    register_extractor("tinyfid", _tiny)


def _images(folder: Path, n: int, seed: int, high: int = 256, size: int = SIZE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        base = rng.integers(0, high, (1, 1, 3))
        arr = np.clip(base + rng.integers(-60, 60, (size, size, 3)), 0, 255).astype(np.uint8)
        out.append(folder / f"{i:03d}.png")
        Image.fromarray(arr).save(out[-1])
    return out


def _items(paths: list[Path]) -> list[ScoreItem]:
    return [ScoreItem(p.stem, p, "a prompt", "p0", None) for p in paths]


def _uint8(paths: list[Path]) -> torch.Tensor:
    arr = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def test_scorer_matches_torchmetrics_fid_and_kid(tmp_path: Path) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real = _images(tmp_path / "real", 30, 0)
    fake = _images(tmp_path / "fake", 30, 1, high=160)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "tinyfid"}, 8, False)
    opts = FidOptions(
        reference="real",
        reference_root=tmp_path,
        extractor="tinyfid",
        kid_subsets=4,
        kid_subset_size=1000,  # capped at n = 30: every subset is the whole set
        bootstrap=30,
    )
    scorer = FidScorer(opts)
    names = [m.name for m in scorer.metrics()]
    assert names == ["fd_tinyfid", "fd_tinyfid_ci_low", "fd_tinyfid_ci_high"] + [
        "kid_tinyfid_mean",
        "kid_tinyfid_std",
    ]
    assert "tinyfid" in scorer.label() and "resize clean" in scorer.label()
    scorer.reset()
    items = _items(fake)
    for i in range(0, len(items), 7):
        scorer.update(items[i : i + 7])
    ours = scorer.compute()

    net = _tiny_net().eval()
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)

    class Feature(torch.nn.Module):
        num_features = 32

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return net((x.float() / 255 - mean) / std)

    fid = FrechetInceptionDistance(feature=Feature())
    kid = KernelInceptionDistance(feature=Feature(), subsets=4, subset_size=30)
    for metric in (fid, kid):
        metric.update(_uint8(real), real=True)
        metric.update(_uint8(fake), real=False)
    fid_tm = float(fid.compute())
    kid_tm = float(kid.compute()[0])
    fd = ours["fd_tinyfid"]
    assert isinstance(fd, float)
    rel = abs(fd - fid_tm) / fid_tm
    rel_kid = abs(ours["kid_tinyfid_mean"] - kid_tm) / abs(kid_tm)  # type: ignore[operator]
    print(f"FD scorer={fd:.6f} torchmetrics={fid_tm:.6f} rel={rel:.2e}; KID rel={rel_kid:.2e}")
    assert rel < 1e-3 and rel_kid < 1e-3
    low, high = ours["fd_tinyfid_ci_low"], ours["fd_tinyfid_ci_high"]
    assert isinstance(low, float) and isinstance(high, float) and low < fd < high

    # scipy's sqrtm per group gives the same number as the default symmetric method.
    by_sqrtm = FidScorer(opts.model_copy(update={"fd_method": "sqrtm", "bootstrap": 0}))
    by_sqrtm.update(items)
    assert by_sqrtm.compute()["fd_tinyfid"] == pytest.approx(fd, rel=1e-6)  # batching noise

    # reset() starts a new group: scoring the reference images themselves gives FD ~ 0.
    scorer.reset()
    scorer.update(_items(real))
    assert abs(scorer.compute()["fd_tinyfid"]) < 1e-6 * fid_tm  # type: ignore[arg-type]


def test_fewer_than_two_images_gives_no_numbers(tmp_path: Path) -> None:
    _images(tmp_path / "real", 4, 0)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "tinyfid"}, 8, False)
    scorer = FidScorer(FidOptions(reference="real", reference_root=tmp_path, extractor="tinyfid"))
    scorer.update(_items(_images(tmp_path / "one", 1, 3)))
    assert all(v is None for v in scorer.compute().values())


def test_identity_mismatch_is_an_error(tmp_path: Path) -> None:
    _images(tmp_path / "real", 4, 0)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "tinyfid"}, 8, False)
    fake = _items(_images(tmp_path / "fake", 2, 1))
    # Inception's identity is known before any weights are loaded.
    scorer = FidScorer(FidOptions(reference="real", reference_root=tmp_path))
    with pytest.raises(UserError, match="extractor 'tinyfid:v1'"):
        scorer.update(fake)
    other = FidScorer(
        FidOptions(reference="real", reference_root=tmp_path, extractor="tinyfid", resize="native")
    )
    with pytest.raises(UserError, match="resize"):
        other.update(fake)


def test_loads_names_the_reference_and_extractor_by_content(tmp_path: Path) -> None:
    _images(tmp_path / "real", 4, 0)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "tinyfid"}, 8, False)
    opts = FidOptions(reference="real", reference_root=tmp_path, extractor="tinyfid")
    before = FidScorer(opts).loads()
    assert before["extractor"] == "tinyfid" and before["reference"].startswith("sha256:")
    # The same statistics under another root are the same numbers: the root is no identity.
    moved = tmp_path / "elsewhere"
    (moved / "references").mkdir(parents=True)
    (tmp_path / "references" / "real").rename(moved / "references" / "real")
    assert FidScorer(opts.model_copy(update={"reference_root": moved})).loads() == before
    # Rebuilt from other images: another reference, another identity.
    _images(tmp_path / "other", 4, 5)
    spec = {"kind": "tinyfid"}
    build_reference(tmp_path / "other", "real", moved, spec, 8, False, overwrite=True)
    after = FidScorer(opts.model_copy(update={"reference_root": moved})).loads()
    assert after["reference"] != before["reference"]
    assert "reference_root" in FidOptions.not_identity


def test_options_are_validated() -> None:
    with pytest.raises(UserError, match="inception_score needs extractor"):
        FidScorer.parse_options({"reference": "r", "extractor": "clip", "inception_score": True})
    with pytest.raises(UserError, match="reference"):
        FidScorer.parse_options({})
    assert missing(FidScorer.check(None))  # no options: the reference is missing


def test_check_reports_missing_inception_weights_with_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _images(tmp_path / "real", 2, 0)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "tinyfid"}, 8, False)
    opts = FidOptions(reference="real", reference_root=tmp_path)
    lacking = missing(FidScorer.check(opts))
    assert [r.what.startswith("Inception-v3") for r in lacking] == [True]
    assert INCEPTION_URL in lacking[0].fix and "--weights PATH" in lacking[0].fix

    cached = tmp_path / "torch" / "hub" / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert not missing(FidScorer.check(opts))

    local = tmp_path / "w.pth"
    local.write_bytes(b"x")
    with_path = FidOptions(reference="real", reference_root=tmp_path, weights=local)
    assert not missing(FidScorer.check(with_path))
    gone = FidOptions(reference="real", reference_root=tmp_path, weights=tmp_path / "no.pth")
    assert missing(FidScorer.check(gone))
    no_ref = FidOptions(reference="absent", reference_root=tmp_path, weights=local)
    assert [r.what for r in missing(FidScorer.check(no_ref))][0].startswith("reference")


# ------------------------------------------------------------------ Inception


class Payload:
    """Something that is not a tensor: a weights file holding it must not be unpickled."""


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch-fidelity's Inception-v3 with random weights, saved as a .pth file.

    Convolutions get He initialisation so activations keep their scale through the network
    (PyTorch's default init shrinks them to ~1e-7 over 94 layers)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fi

    torch.manual_seed(0)
    with (
        mock.patch.object(fi, "load_state_dict_from_url", lambda *a, **k: {}),
        mock.patch.object(fi.FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None),
    ):
        net = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.slow
def test_inception_float_forward_equals_torch_fidelity(inception_weights: Path) -> None:
    net = load_inception(inception_weights)
    x = torch.randint(0, 256, (1, 3, 299, 299), dtype=torch.uint8)
    with torch.no_grad():
        pool, logits = net(x)  # torch-fidelity's own forward (its resize is a no-op at 299)
        pool2, logits2 = inception_float_forward(net, x.float())
    assert pool.abs().mean() > 1e-3  # a live network, not vanished activations
    torch.testing.assert_close(pool2, pool, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits2, logits, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_native_inception_fid_matches_torchmetrics(tmp_path: Path, inception_weights: Path) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    real = _images(tmp_path / "real", 3, 0, size=48)
    fake = _images(tmp_path / "fake", 3, 1, high=160, size=48)
    spec = {"kind": "inception", "resize": "native", "weights": str(inception_weights)}
    start = time.perf_counter()
    build_reference(tmp_path / "real", "real", tmp_path, spec, 8, False)
    scorer = FidScorer(
        FidOptions(
            reference="real",
            reference_root=tmp_path,
            weights=inception_weights,
            resize="native",
            inception_score=True,
            is_splits=3,
            bootstrap=0,
            device="cpu",
        )
    )
    scorer.update(_items(fake))
    ours = scorer.compute()
    t_ours = time.perf_counter() - start

    start = time.perf_counter()
    # antialias=False: torch-fidelity's TF1-compatible resize, which is what `native` means.
    fid = FrechetInceptionDistance(
        feature_extractor_weights_path=str(inception_weights), antialias=False
    )
    fid.set_dtype(torch.float64)
    fid.update(_uint8(real), real=True)
    fid.update(_uint8(fake), real=False)
    theirs = float(fid.compute())
    t_tm = time.perf_counter() - start
    rel = abs(ours["fid"] - theirs) / theirs  # type: ignore[operator]
    print(f"FID scorer={ours['fid']:.6f} ({t_ours:.1f} s) torchmetrics={theirs:.6f} ({t_tm:.1f} s)")
    assert rel < 1e-3
    assert ours["fid_ci_low"] is None  # bootstrap off
    assert isinstance(ours["is_mean"], float) and ours["is_mean"] >= 1.0
    assert isinstance(ours["kid_mean"], float)


@pytest.mark.slow
def test_clean_inception_extractor_and_unsafe_weights(
    tmp_path: Path, inception_weights: Path
) -> None:
    ex = InceptionExtractor(load_inception(inception_weights), resize="clean", device="cpu")
    assert ex.name == "inception-v3-torchfidelity" and ex.dim == 2048
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8))
    feats, logits = ex.features_and_logits([img, img])
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    np.testing.assert_allclose(feats[0], feats[1])

    bad = tmp_path / "bad.pth"
    torch.save({"x": Payload()}, bad)
    with pytest.raises(UserError, match="refusing to unpickle"):
        load_inception(bad)
    with pytest.raises(UserError, match="not found"):
        load_inception(tmp_path / "absent.pth")


def test_clip_extractor_gives_fd_clip(tmp_path: Path) -> None:
    """The open_clip path end to end, with a tiny random model saved as local weights."""
    import json

    import open_clip
    from open_clip.model import CLIP

    cfg = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 32,
            "head_width": 16,
            "patch_size": 8,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 16,
            "heads": 2,
            "layers": 1,
        },
    }
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "TinyCLIP-fid-test.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "cfg")
    torch.manual_seed(0)
    weights = tmp_path / "tiny.pt"
    torch.save(CLIP(**cfg).state_dict(), weights)

    _images(tmp_path / "real", 12, 0)
    spec = {
        "kind": "clip",
        "model": "TinyCLIP-fid-test",
        "pretrained": "random",
        "weights": str(weights),
        "device": "cpu",
    }
    build_reference(tmp_path / "real", "real", tmp_path, spec, 8, False)
    opts = FidOptions(
        reference="real",
        reference_root=tmp_path,
        extractor="clip",
        clip_model="TinyCLIP-fid-test",
        clip_pretrained="random",
        weights=weights,
        device="cpu",
    )
    assert not missing(FidScorer.check(opts))
    scorer = FidScorer(opts)
    assert "clip:TinyCLIP-fid-test/random" in scorer.label()
    scorer.update(_items(_images(tmp_path / "fake", 10, 1, high=120)))
    out = scorer.compute()
    assert isinstance(out["fd_clip"], float) and out["fd_clip"] > 0
    assert isinstance(out["kid_clip_mean"], float)
    # A different CLIP tag is a different feature space: refused.
    other = FidScorer(opts.model_copy(update={"clip_pretrained": "openai"}))
    with pytest.raises(UserError, match="extractor"):
        other.update(_items(_images(tmp_path / "fake", 2, 1)))
