"""`clip: {model: HUB_ID_OR_DIR}`: transformers CLIP models, scored as torchmetrics scores them.

The reference numbers were recorded once from torchmetrics 1.9.0's `CLIPScore` (with
transformers 5.24.0, torch 2.14.1) on the tiny model `build_tiny_clip(DIR, seed=0)` builds,
the images `images(8)` and the captions `PROMPTS`: one `CLIPScore` per pair for the per-pair
values, one over all eight pairs for the set. torchmetrics 1.9 expects `get_image_features` /
`get_text_features` to return tensors, as transformers 4 did; transformers 5 returns a
ModelOutput whose `pooler_output` is that tensor, so the model was handed to torchmetrics
through a four-line adapter taking `.pooler_output` (processor, normalisation, averaging and
clamping were torchmetrics' own):

    metric = CLIPScore(model_name_or_path=lambda: (Adapter(model), processor))
    metric.update([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in ims], PROMPTS)
    float(metric.compute())
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from audit.errors import UserError
from audit.scorers.base import ScoreItem, missing
from audit.scorers.clip import (
    ClipOptions,
    ClipScorer,
    ClipSetOptions,
    ClipSetScorer,
    set_clip_score,
)
from tests.scorers.tiny_hf_clip import PROMPTS, build_tiny_clip, build_tiny_siglip, images

torch.set_num_threads(1)

TORCHMETRICS_PER_PAIR = [
    28.01292610168457,
    28.118377685546875,
    0.0,  # raw 100 * cos = -2.756
    23.978031158447266,
    29.60137939453125,
    26.902606964111328,
    0.0,  # raw 100 * cos = -17.167
    18.801036834716797,
]
TORCHMETRICS_SET = 16.93640899658203  # 100 * max(mean cos, 0) over the eight pairs


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip") / "model", seed=0)


def _items(n: int = 8) -> list[ScoreItem]:
    items = []
    for i, (img, text) in enumerate(zip(images(n), PROMPTS[:n], strict=True)):
        item = ScoreItem(f"k{i}", Path(f"/nonexistent/{i}.png"), text, "p", None)
        item._image = img
        items.append(item)
    return items


def test_directory_model_scores_every_pair_as_torchmetrics(tiny_dir: Path) -> None:
    opts = ClipScorer.parse_options({"model": str(tiny_dir), "device": "cpu"})
    assert not missing(ClipScorer.check(opts))
    rows = ClipScorer(opts).score_batch(_items())  # type: ignore[arg-type]
    ours = [r["clip_score"] for r in rows]
    print(f"ours {ours}\ntorchmetrics {TORCHMETRICS_PER_PAIR}")
    assert ours == pytest.approx(TORCHMETRICS_PER_PAIR, abs=1e-3)
    assert all(r["clip_score"] == 100 * max(r["clip_cosine"], 0) for r in rows)  # type: ignore[operator]


def test_set_score_is_torchmetrics_clipscore_of_the_cell(tiny_dir: Path) -> None:
    scorer = ClipSetScorer(ClipSetOptions(model=str(tiny_dir), device="cpu", bootstrap=200))
    scorer.reset()
    items = _items()
    scorer.update(items[:3])
    scorer.update(items[3:])
    values = scorer.compute()
    print(f"clip_score_set {values['clip_score_set']} torchmetrics {TORCHMETRICS_SET}")
    assert values["clip_score_set"] == pytest.approx(TORCHMETRICS_SET, abs=1e-3)
    # Not the mean of the clamped per-pair scores (19.43): two cosines here are negative.
    assert sum(TORCHMETRICS_PER_PAIR) / 8 == pytest.approx(19.4268, abs=1e-3)
    low, high = values["clip_score_set_ci_low"], values["clip_score_set_ci_high"]
    assert isinstance(low, float) and isinstance(high, float) and low < TORCHMETRICS_SET < high
    assert {m.name for m in scorer.metrics()} == set(values)
    scorer.reset()
    assert all(v is None for v in scorer.compute().values())  # an empty cell: no number


def test_siglip_directory_scores_as_its_documented_usage(tmp_path: Path) -> None:
    """SigLIP as its model card uses it: processor with padding="max_length", then
    get_image_features / get_text_features (no torchmetrics reference: it has no SigLIP)."""
    from transformers import AutoModel, AutoProcessor

    folder = build_tiny_siglip(tmp_path / "siglip")
    rows = ClipScorer(ClipOptions(model=str(folder), device="cpu")).score_batch(_items(4))
    model, processor = AutoModel.from_pretrained(folder), AutoProcessor.from_pretrained(folder)
    with torch.no_grad():
        pixels = processor(images=[im.convert("RGB") for im in images(4)], return_tensors="pt")
        zi = model.get_image_features(**pixels).pooler_output
        tokens = processor(text=PROMPTS[:4], padding="max_length", return_tensors="pt")
        zt = model.get_text_features(**tokens).pooler_output
    expected = torch.nn.functional.cosine_similarity(zi, zt).tolist()
    assert [r["clip_cosine"] for r in rows] == pytest.approx(expected, abs=1e-5)


def test_set_score_formula_clamps_the_mean_not_each_pair() -> None:
    values = set_clip_score([0.3, -0.5], bootstrap=0)
    assert values["clip_score_set"] == 0.0 and values["clip_score_set_ci_low"] is None
    assert set_clip_score([0.3, -0.1], bootstrap=0)["clip_score_set"] == pytest.approx(10.0)


def _fake_hub_cache(root: Path, repo: str, model_dir: Path, commit: str) -> None:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/COMMIT/}."""
    base = root / ("models--" + repo.replace("/", "--"))
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, base / "snapshots" / commit)


def test_hub_id_loads_from_the_cache_and_names_its_commit(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    commit = "0123456789abcdef0123456789abcdef01234567"
    _fake_hub_cache(tmp_path / "hub", "tiny-org/tiny-clip", tiny_dir, commit)

    opts = ClipOptions(model="tiny-org/tiny-clip", device="cpu")
    assert not missing(ClipScorer.check(opts))
    scorer = ClipScorer(opts)
    assert scorer.loads() == {"clip_model": "tiny-org/tiny-clip", "revision": commit}
    rows = scorer.score_batch(_items(4))
    assert [r["clip_score"] for r in rows] == pytest.approx(TORCHMETRICS_PER_PAIR[:4], abs=1e-3)


def test_offline_hub_id_not_cached_is_a_check_failure_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    opts = ClipOptions(model="openai/clip-vit-large-patch14")
    lacking = missing(ClipScorer.check(opts))
    assert len(lacking) == 1
    assert "openai/clip-vit-large-patch14" in lacking[0].what and "cache" in lacking[0].what
    assert "snapshot_download('openai/clip-vit-large-patch14'" in lacking[0].fix
    assert "model: DIR" in lacking[0].fix
    # Loading anyway (the runner would have skipped it) is a UserError with the same fix.
    with pytest.raises(UserError, match="not in the Hugging Face cache"):
        ClipScorer(opts).score_batch(_items(1))
    # The identity is still defined: the hub id and the revision asked for.
    assert ClipScorer(opts).loads() == {"clip_model": opts.model, "revision": "main"}


def test_directory_identity_is_its_content_not_its_path(tiny_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(tiny_dir, copy)
    (copy / ".cache").mkdir()  # hub download metadata: timestamps, not weights
    (copy / ".cache" / "meta").write_text("downloaded at noon")
    a = ClipScorer(ClipOptions(model=str(tiny_dir))).loads()
    b = ClipScorer(ClipOptions(model=str(copy))).loads()
    assert a == b and a["weights"].startswith("sha256:")
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert ClipScorer(ClipOptions(model=str(copy))).loads() != a


def test_how_a_model_value_is_recognised(tiny_dir: Path, tmp_path: Path) -> None:
    def lacking(value: str, **extra: Any) -> list[str]:
        return [r.what for r in missing(ClipScorer.check(ClipOptions(model=value, **extra)))]

    assert ClipScorer(ClipOptions(model="ViT-B-32")).loads()["pretrained"] == "openai"
    assert ClipScorer(ClipOptions(model="toyclip")).loads()["clip_model"] == "toyclip"
    assert lacking(str(tiny_dir)) == []
    assert "not found" in lacking(str(tmp_path / "absent"))[0]
    (tmp_path / "empty").mkdir()
    assert "no config.json" in lacking(str(tmp_path / "empty"))[0]
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text('{"model_type": "bert"}')
    assert "model_type 'bert'" in lacking(str(bert))[0]
    nobin = tmp_path / "pickled"
    shutil.copytree(tiny_dir, nobin)
    (nobin / "model.safetensors").rename(nobin / "pytorch_model.bin")
    assert "no safetensors weights" in lacking(str(nobin))[0]


def test_options_that_do_not_fit_the_model_are_spec_errors(tiny_dir: Path) -> None:
    with pytest.raises(UserError, match=r"model: .*tiny-clip"):
        ClipScorer.parse_options({"weights": str(tiny_dir)})
    with pytest.raises(UserError, match="`weights` applies to open_clip"):
        ClipScorer.parse_options({"model": str(tiny_dir), "weights": "x.pt"})
    with pytest.raises(UserError, match="`revision` pins a hub model"):
        ClipScorer.parse_options({"model": "ViT-L-14", "revision": "main"})
    opts = ClipScorer.parse_options({"model": "openai/clip-vit-base-patch32", "revision": "v1"})
    assert isinstance(opts, ClipOptions) and opts.revision == "v1"
