"""The preference scorers (pickscore, hpsv2, aesthetic) against their reference implementations.

Each reference number was recorded once by running the reference repository's own code path
on the tiny random models `audit.scorers.preference_tiny.tiny_options` builds (seeds as there)
and the images `sample_images()` with the prompts `PROMPTS` (torch 2.14.1, torchvision 0.29.1,
transformers 5.24.0, open-clip-torch 3.3.0, CPU, float32):

* PickScore: the README inference snippet of yuvalkirstain/PickScore (commit f79607f):
  `processor(images=..., padding=True, truncation=True, max_length=77)`, the same for the
  prompt, unit `get_image_features` / `get_text_features`, `model.logit_scale.exp() *
  (text_embs @ image_embs.T)[0]`, once per prompt over that prompt's images. transformers 5
  returns a ModelOutput from `get_*_features`; its `.pooler_output` was taken (the tensor
  transformers 4 returned).
* HPS v2.1: hpsv2 1.2.0 from PyPI (tgxs002/HPSv2, `hpsv2/img_score.py` at 866735e) with its
  vendored open_clip: `create_model_and_transforms(..., light_augmentation=True,
  output_dict=True)` with the tiny architecture registered by `add_model_config`, the
  checkpoint's `state_dict` loaded, `get_tokenizer('ViT-H-14')`, one image at a time,
  `diag(image_features @ text_features.T)`. (The wheel lacks `bpe_simple_vocab_16e6.txt.gz`;
  it was copied from the repository, the same file open_clip ships.)
* Aesthetic: christophschuhmann/improved-aesthetic-predictor `simple_inference.py` (commit
  6934dd8): its `MLP` and `normalized()`, with the tiny open_clip CLIP standing in for
  `clip.load("ViT-L/14")` and openai/CLIP's `_transform(n_px)` (Resize bicubic, CenterCrop,
  RGB, ToTensor, Normalize) as its preprocess; `model(torch.from_numpy(normalized(
  encode_image(image))))`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from audit.cli import main
from audit.errors import UserError
from audit.scorers.base import ScoreItem, missing
from audit.scorers.identity import describe
from audit.scorers.preference import (
    AestheticScorer,
    HpsScorer,
    PickScoreScorer,
    PreferenceScorer,
    WeightsFile,
)
from audit.scorers.preference_tiny import tiny_options

torch.set_num_threads(1)

SCORERS: dict[str, type[PreferenceScorer[Any]]] = {
    "pickscore": PickScoreScorer,
    "hpsv2": HpsScorer,
    "aesthetic": AestheticScorer,
}
SIZES = [(48, 40), (32, 32), (64, 80), (50, 50), (40, 72), (33, 47)]  # (height, width)
LONG = "a photo of a city at night with " + "many bright lights and " * 20 + "a river"
PROMPTS = ["a red cube", "a red cube", "two dogs on a sofa", "a sign that says 'OPEN'"]
PROMPTS += ["two dogs on a sofa", LONG]  # LONG is cut at 77 tokens

REFERENCE: dict[str, list[float]] = {
    "pickscore": [
        1.9806716442108154,
        1.9229767322540283,
        2.537092685699463,
        0.4572468101978302,
        2.5936858654022217,
        -2.3234140872955322,
    ],
    "hpsv2": [
        0.05999358743429184,
        0.059241149574518204,
        0.01966385543346405,
        -0.040390051901340485,
        0.03793414309620857,
        -0.030535832047462463,
    ],
    "aesthetic": [
        -0.4404979646205902,
        -0.5135800242424011,
        -0.3364545404911041,
        -0.4604753255844116,
        -0.524678111076355,
        -0.3900168240070343,
    ],
}


def sample_images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return tiny_options(tmp_path_factory.mktemp("tiny-preference"))


def _items() -> list[ScoreItem]:
    items = []
    for i, (img, text) in enumerate(zip(sample_images(), PROMPTS, strict=True)):
        item = ScoreItem(f"k{i}", Path(f"/nonexistent/{i}.png"), text, "p", None)
        item._image = img
        items.append(item)
    return items


@pytest.mark.parametrize("name", list(SCORERS))
def test_scores_match_the_reference_implementation(name: str, tiny: dict[str, Any]) -> None:
    cls = SCORERS[name]
    opts = cls.parse_options({**tiny[name], "device": "cpu", "batch_size": 4})
    assert not missing(cls.check(opts))
    rows = cls(opts).score_batch(_items())  # type: ignore[arg-type]
    ours = [r[name] for r in rows]
    print(f"{name}: ours {ours}\nreference {REFERENCE[name]}")
    assert ours == pytest.approx(REFERENCE[name], abs=1e-5, rel=1e-5)
    assert len(set(ours)) == len(set(zip(SIZES, PROMPTS, strict=True)))  # not one constant


def test_an_ingested_run_scores_offline_and_exports_directions(
    tiny: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    src = tmp_path / "external"
    src.mkdir()
    lines = []
    for i, (img, prompt) in enumerate(zip(sample_images(), PROMPTS, strict=True)):
        img.save(src / f"{i}.png")
        lines.append(json.dumps({"file": f"{i}.png", "prompt": prompt, "seed": i}))
    (src / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    options = tmp_path / "options.yaml"  # JSON is YAML
    options.write_text(json.dumps({n: {**o, "device": "cpu"} for n, o in tiny.items()}))
    names = ",".join(SCORERS)
    capsys.readouterr()
    assert main(["score", str(run), "--scorers", names, "--options", str(options), "--quiet"]) == 0
    printed = capsys.readouterr().out
    for name in SCORERS:
        assert f"{name}: scored {len(PROMPTS)}" in printed, printed

    out = tmp_path / "scores.csv"
    assert main(["export", str(run), "--format", "csv", "--out", str(out)]) == 0
    table = pd.read_csv(out).sort_values("seed")
    catalog = json.loads((tmp_path / "scores.csv.metrics.json").read_text())
    for name in SCORERS:
        assert catalog[name]["direction"] == "higher"
        assert list(table[name]) == pytest.approx(REFERENCE[name], abs=1e-5, rel=1e-5)


def test_doctor_lists_each_preference_model_with_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))  # nothing cached
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert main(["doctor"]) == 0
    printed = capsys.readouterr().out
    for name in SCORERS:
        assert f"[missing] {name} v1" in printed, printed
    for needed in (
        "hub model yuvalkirstain/PickScore_v1",
        "processor laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        "HPS checkpoint xswu/HPSv2/HPS_v2.1_compressed.pt: not cached",
        "hf_hub_download('xswu/HPSv2', 'HPS_v2.1_compressed.pt')",
        "CLIP weights ViT-L-14/openai",
        "aesthetic MLP https://github.com/christophschuhmann/improved-aesthetic-predictor",
        "sac+logos+ava1-l14-linearMSE.pth",
    ):
        assert needed in printed, f"{needed!r} not in:\n{printed}"


def _identity(options: dict[str, Any]) -> str:
    return describe(HpsScorer(HpsScorer.parse_options(options))).identity  # type: ignore[arg-type]


def test_identity_follows_the_weights_not_their_path_batch_size_or_device(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    base = _identity(tiny["hpsv2"])
    assert _identity({**tiny["hpsv2"], "batch_size": 3, "device": "cpu"}) == base
    other = tmp_path / "other.pt"
    shutil.copy(tiny["hpsv2"]["checkpoint"], other)
    assert _identity({**tiny["hpsv2"], "checkpoint": str(other)}) == base  # moved: same bytes
    state = torch.load(other, weights_only=True)
    state["state_dict"]["logit_scale"] += 1.0
    torch.save(state, other)
    assert _identity({**tiny["hpsv2"], "checkpoint": str(other)}) != base


def test_weights_files_are_local_paths_hub_files_or_urls(tmp_path: Path) -> None:
    hub = WeightsFile("xswu/HPSv2/HPS_v2.1_compressed.pt", "checkpoint")
    assert hub.hub() == ("xswu/HPSv2", "HPS_v2.1_compressed.pt") and hub.local is None
    local = WeightsFile(str(tmp_path / "x.pt"), "checkpoint")
    assert local.local == tmp_path / "x.pt" and local.hub() is None
    assert not local.requirement("HPS checkpoint").ok
    with pytest.raises(UserError, match="checkpoint"):
        local.path()
    url = WeightsFile("https://example.org/a/b/head.pth", "head")
    assert url.hub() is None and url.local is None
    assert "curl -L" in url.requirement("aesthetic MLP").fix


def test_wrong_weights_are_refused_naming_the_option(tiny: dict[str, Any]) -> None:
    # The HPS checkpoint given as the aesthetic head: not the MLP.
    opts = AestheticScorer.parse_options({**tiny["aesthetic"], "head": tiny["hpsv2"]["checkpoint"]})
    with pytest.raises(UserError) as err:
        AestheticScorer(opts).scores(sample_images()[:1], ["x"])  # type: ignore[arg-type]
    assert "head" in str(err.value) and "aesthetic" in str(err.value)
    # The aesthetic head given as the HPS checkpoint: does not fit the architecture.
    opts = HpsScorer.parse_options({**tiny["hpsv2"], "checkpoint": tiny["aesthetic"]["head"]})
    with pytest.raises(UserError, match="checkpoint"):
        HpsScorer(opts).scores(sample_images()[:1], ["x"])  # type: ignore[arg-type]


def test_bench_times_each_scorer_beside_its_model_called_directly(tiny: dict[str, Any]) -> None:
    from audit.bench.score import bench_preference

    rows = bench_preference(images=4, size=64, rounds=2, batch_size=2, models=tiny)
    assert [b.name for b in rows] == list(SCORERS)
    for b in rows:
        assert b.max_diff < 1e-5, b
        assert len(b.round_ratios) == 2 and b.scorer_ips > 0 and b.direct_ips > 0
