"""Images per second of each offline scorer, and the CLIP scorer beside its model called directly.

The images are PNG files on disk (drawn shapes and a word, as generated images are), signed
with a test C2PA chain so the c2pa scorer takes its full validation path. Each scorer is
timed as the score runner drives it: batches of its own size, images read from disk, the
decoded copies dropped after each batch. Loading (weights, ONNX sessions) is timed apart.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.scorers.base import ScoreItem

OFFLINE_SCORERS = ("text", "nsfw", "quality", "watermark", "c2pa", "efficiency")
WORDS = ("OPEN", "STOP", "CAFE", "EXIT")
COLOURS = ((220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 200, 40))

# A small random open_clip CLIP (ViT): big enough that the model, not Python, dominates.
TINY_CLIP = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@dataclass
class ScorerBench:
    name: str
    images: int
    load_seconds: float  # constructing the scorer and its first batch (weights, sessions)
    ips: float | None  # images per second after loading; None if skipped
    skipped: str | None = None  # what it needs, when it cannot run here


@dataclass
class ClipBench:
    images: int
    scorer_ips: float
    direct_ips: float
    round_ratios: list[float]  # per round: direct seconds / scorer seconds
    max_cosine_diff: float  # scorer against direct, same images and prompts

    @property
    def ratio(self) -> float:
        ordered = sorted(self.round_ratios)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def make_items(folder: Path, n: int, size: int = 256, *, sign: bool = True) -> list[ScoreItem]:
    """`n` PNG files with a coloured shape and a word, signed with a fresh test chain."""
    import io

    from PIL import Image, ImageDraw

    from audit.prompts.model import Expectations

    signer = _test_signer() if sign else None
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        word, colour = WORDS[i % len(WORDS)], COLOURS[(i // len(WORDS)) % len(COLOURS)]
        img = Image.new("RGB", (size, size), (235 - 7 * (i % 8), 230, 220))
        draw = ImageDraw.Draw(img)
        s = size // 8
        draw.ellipse((s, s, 3 * s + (i % 3) * s, 3 * s + (i % 3) * s), fill=colour)
        draw.text((size // 3, size // 2), word, fill=(0, 0, 0), font_size=max(8, size // 8))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = signer(buf.getvalue()) if signer else buf.getvalue()
        path = folder / f"{i:05d}.png"
        path.write_bytes(data)
        prompt = f"a sign that says '{word}'"
        request = {"gen_seconds": 0.5 + 0.01 * i, "peak_mem_mb": 900.0 + i}
        items.append(ScoreItem(f"{i:064x}", path, prompt, f"p{i % 4}", Expectations(), request))
    return items


def _test_signer() -> Any:
    from audit.provenance.sign import sign_image
    from audit.provenance.testchain import make_test_chain

    chain = make_test_chain()
    return lambda png: sign_image(png, "image/png", chain.chain, chain.key)


def _drop_images(items: Sequence[ScoreItem]) -> None:
    for it in items:
        it._image = None  # as the runner does: read each image from disk again


def time_scorer(name: str, items: list[ScoreItem], options: dict[str, Any] | None = None) -> Any:
    """One scorer over `items`, as the runner drives it."""
    from audit.scorers.base import ImageScorer, SetScorer, missing
    from audit.scorers.registry import default_registry

    cls = default_registry().get(name)
    opts = cls.parse_options(options or {}, source="bench")
    lacking = missing(cls.check(opts))
    if lacking:
        needs = "; ".join(f"{r.what} (fix: {r.fix})" for r in lacking)
        return ScorerBench(name, len(items), 0.0, None, skipped=needs)
    start = time.perf_counter()
    scorer = cls(opts)
    if isinstance(scorer, ImageScorer):
        scorer.score_batch(items[:1])
        load = time.perf_counter() - start
        _drop_images(items)
        start = time.perf_counter()
        for i in range(0, len(items), scorer.batch_size):
            batch = items[i : i + scorer.batch_size]
            out = scorer.score_batch(batch)
            assert len(out) == len(batch)
            _drop_images(batch)
    else:
        assert isinstance(scorer, SetScorer)
        load = time.perf_counter() - start
        start = time.perf_counter()
        scorer.reset()
        for i in range(0, len(items), 32):
            scorer.update(items[i : i + 32])
            _drop_images(items[i : i + 32])
        scorer.compute()
    seconds = time.perf_counter() - start
    return ScorerBench(name, len(items), load, len(items) / seconds if seconds > 0 else None)


def bench_scorers(
    names: Sequence[str] = OFFLINE_SCORERS, *, images: int = 16, size: int = 256
) -> list[ScorerBench]:
    with tempfile.TemporaryDirectory(prefix="t2i-scorebench-") as tmp:
        items = make_items(Path(tmp), images, size, sign="c2pa" in names)
        return [time_scorer(name, items) for name in names]


def tiny_clip(seed: int = 0) -> tuple[Any, Any, Any]:
    """A random open_clip CLIP, its image transform and the bundled BPE tokenizer (offline)."""
    import open_clip
    import torch
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    model = CLIP(**TINY_CLIP).eval()  # type: ignore[arg-type]
    size = TINY_CLIP["vision_cfg"]["image_size"]  # type: ignore[index]
    return (
        model,
        open_clip.image_transform(size, is_train=False),
        open_clip.get_tokenizer("ViT-B-32"),
    )


def bench_clip(
    *, images: int = 32, size: int = 256, rounds: int = 3, batch_size: int = 16
) -> ClipBench:
    """ClipScorer.from_components around a tiny random CLIP, beside the loop a user would
    write with the same model (open each file, preprocess, encode both sides, cosine)."""
    import torch
    from PIL import Image

    from audit.scorers.clip import ClipOptions, ClipScorer

    model, preprocess, tokenizer = tiny_clip()
    opts = ClipOptions(resize="native", device="cpu", batch_size=batch_size)
    scorer = ClipScorer.from_components(model, preprocess, tokenizer, name="tiny", options=opts)

    def direct(batch: Sequence[ScoreItem]) -> list[float]:
        ims = []
        for it in batch:
            with Image.open(it.image_path) as im:
                ims.append(preprocess(im.convert("RGB")))
        with torch.inference_mode():
            zi = model.encode_image(torch.stack(ims))
            zt = model.encode_text(tokenizer([it.prompt_text for it in batch]))
        zi = zi / zi.norm(dim=-1, keepdim=True)
        zt = zt / zt.norm(dim=-1, keepdim=True)
        return [float(c) for c in (zi * zt).sum(-1)]

    def harness(batch: Sequence[ScoreItem]) -> list[float]:
        out = scorer.score_batch(batch)
        _drop_images(batch)
        return [float(row["clip_cosine"]) for row in out]  # type: ignore[arg-type]

    sides = {"scorer": harness, "direct": direct}
    with tempfile.TemporaryDirectory(prefix="t2i-clipbench-") as tmp:
        items = make_items(Path(tmp), images, size, sign=False)
        cos = {name: fn(items[:batch_size]) for name, fn in sides.items()}  # warm-up
        worst = max(abs(a - b) for a, b in zip(cos["scorer"], cos["direct"], strict=True))
        total = {"scorer": 0.0, "direct": 0.0}
        ratios = []
        for r in range(rounds):
            took = {}
            for name in ("scorer", "direct") if r % 2 == 0 else ("direct", "scorer"):
                start = time.perf_counter()
                for i in range(0, len(items), batch_size):
                    sides[name](items[i : i + batch_size])
                took[name] = time.perf_counter() - start
                total[name] += took[name]
            ratios.append(took["direct"] / took["scorer"])
    n = rounds * images
    return ClipBench(images, n / total["scorer"], n / total["direct"], ratios, worst)
