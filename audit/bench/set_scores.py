"""The cmmd scorer and the dinov2 extractor beside the libraries called directly.

Both sides use the same tiny random transformers models (built here, saved with
save_pretrained and loaded by path, as a hub id loads), the same PNG files and batches, and
alternate which runs first round by round:

* CMMD: `CmmdScorer` (`reset`, `update` per batch, `compute`, no bootstrap) against the loop
  the reference code runs (google-research/google-research ``cmmd/``): open each file, its
  centre-crop-and-bicubic preprocessing, the CLIP image features made unit, then the MMD of
  ``distance.mmd`` (all three kernel means, in NumPy float64) against the reference rows.
* DINOv2: the `dinov2` extractor against dgm-eval's recipe: torchvision's
  ``Resize((224, 224), BICUBIC)``, ``ToTensor``, ``Normalize``, then ``Dinov2Model``'s
  class token.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.scorers.base import ScoreItem


@dataclass
class SideBySide:
    name: str
    images: int
    scorer_ips: float
    direct_ips: float
    round_ratios: list[float]  # per round: direct seconds / scorer seconds
    max_diff: float  # scorer against direct, same images

    @property
    def ratio(self) -> float:
        return statistics.median(self.round_ratios)


def _alternate(
    sides: dict[str, Callable[[], Any]], rounds: int, images: int, name: str, diff: float
) -> SideBySide:
    total = {k: 0.0 for k in sides}
    ratios = []
    for r in range(rounds):
        took = {}
        for side in ("scorer", "direct") if r % 2 == 0 else ("direct", "scorer"):
            start = time.perf_counter()
            sides[side]()
            took[side] = time.perf_counter() - start
            total[side] += took[side]
        ratios.append(took["direct"] / took["scorer"])
    n = rounds * images
    return SideBySide(name, images, n / total["scorer"], n / total["direct"], ratios, diff)


def tiny_clip_dir(out: Path, seed: int = 0) -> Path:
    """A random transformers CLIPModel (2-layer 64-wide towers, 64 px, patch 8) with an
    image processor, saved as a hub model is."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tower = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_hidden_layers=2)
    config = CLIPConfig(
        text_config=dict(
            **tower, vocab_size=1000, max_position_embeddings=77, bos_token_id=0, eos_token_id=1
        ),
        vision_config=dict(**tower, image_size=64, patch_size=8),
        projection_dim=32,
    )
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(out)
    CLIPImageProcessor(
        size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}
    ).save_pretrained(out)
    return out


def tiny_dinov2_dir(out: Path, seed: int = 0) -> Path:
    """A random Dinov2Model (2 layers, 64 wide, patch 14), saved as a hub model is."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, patch_size=14, image_size=224
    )
    Dinov2Model(config).eval().save_pretrained(out)
    return out


def _batches(items: Sequence[ScoreItem], size: int) -> list[Sequence[ScoreItem]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _drop(items: Sequence[ScoreItem]) -> None:
    for it in items:
        it.release()


def bench_cmmd(
    *, images: int = 32, size: int = 256, rounds: int = 3, batch_size: int = 16
) -> SideBySide:
    import numpy as np
    import torch
    from PIL import Image

    from audit.bench.score import make_items
    from audit.scorers import clip_hf
    from audit.scorers.cmmd import CmmdOptions, CmmdScorer, mmd, unit_rows
    from audit.scorers.reference import build_reference

    with tempfile.TemporaryDirectory(prefix="t2i-cmmdbench-") as tmp:
        root = Path(tmp)
        model_dir = tiny_clip_dir(root / "tiny-clip")
        items = make_items(root / "images", images, size, sign=False)
        spec = {"kind": "clip", "model": str(model_dir), "resize": "native"}
        ref = build_reference(root / "images", "ref", root, spec, progress=False)
        opts = CmmdOptions(
            reference=str(ref), model=str(model_dir), bootstrap=0, batch_size=batch_size
        )
        scorer = CmmdScorer(opts)
        model, processor, _ = clip_hf.HFClipSource(str(model_dir)).load("cpu")
        ip = processor.image_processor
        mean, std = np.asarray(ip.image_mean), np.asarray(ip.image_std)

        def prep(im: Any) -> Any:  # cmmd/io_util.py's crop and resize, then normalize_image
            w, h = im.size
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            x = np.asarray(im.resize((64, 64), Image.Resampling.BICUBIC), np.float32) / 255.0
            return torch.from_numpy(((x - mean) / std).astype(np.float32).transpose(2, 0, 1))

        reference = unit_rows(np.load(ref / "stats.npz")["reservoir"])

        def harness() -> float:
            scorer.reset()
            for batch in _batches(items, batch_size):
                scorer.update(batch)
                _drop(batch)
            return float(scorer.compute()["cmmd"])  # type: ignore[arg-type]

        def direct() -> float:
            rows = []
            for batch in _batches(items, batch_size):
                pixels = []
                for it in batch:
                    with Image.open(it.image_path) as im:
                        pixels.append(prep(im.convert("RGB")))
                with torch.inference_mode():
                    z = model.get_image_features(pixel_values=torch.stack(pixels))
                rows.append(clip_hf.features(z).double().numpy())
            return mmd(unit_rows(np.concatenate(rows)), reference)

        diff = abs(harness() - direct())  # warm-up, and the check that both agree
        return _alternate({"scorer": harness, "direct": direct}, rounds, images, "cmmd", diff)


def bench_dinov2(
    *, images: int = 32, size: int = 256, rounds: int = 3, batch_size: int = 16
) -> SideBySide:
    import numpy as np
    import torch
    import torchvision.transforms as TF
    from PIL import Image
    from transformers import Dinov2Model

    from audit.bench.score import make_items
    from audit.scorers.features import ExtractorSpec, make_extractor

    with tempfile.TemporaryDirectory(prefix="t2i-dinobench-") as tmp:
        root = Path(tmp)
        model_dir = tiny_dinov2_dir(root / "tiny-dinov2")
        items = make_items(root / "images", images, size, sign=False)
        spec = ExtractorSpec(
            kind="dinov2", resize="native", batch_size=batch_size, options={"model": str(model_dir)}
        )
        extractor = make_extractor(spec)
        model = Dinov2Model.from_pretrained(model_dir).eval()
        transform = TF.Compose(
            [
                TF.Resize((224, 224), TF.InterpolationMode.BICUBIC),
                TF.ToTensor(),
                TF.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )

        def harness() -> np.ndarray:
            out = []
            for batch in _batches(items, batch_size):
                out.append(extractor([it.image() for it in batch]))
                _drop(batch)
            return np.concatenate(out)

        def direct() -> np.ndarray:
            out = []
            for batch in _batches(items, batch_size):
                pixels = []
                for it in batch:
                    with Image.open(it.image_path) as im:
                        pixels.append(transform(im.convert("RGB")))
                with torch.inference_mode():
                    cls = model(pixel_values=torch.stack(pixels)).pooler_output
                out.append(cls.double().numpy())
            return np.concatenate(out)

        diff = float(np.abs(harness() - direct()).max())
        return _alternate({"scorer": harness, "direct": direct}, rounds, images, "dinov2", diff)
