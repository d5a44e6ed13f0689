"""Images per second of each offline scorer, the CLIP scorer beside its model called directly,
and text scoring on 2 worker processes against 1.

The images are PNG files on disk (drawn shapes and a word, as generated images are), signed
with a test C2PA chain so the c2pa scorer takes its full validation path. Each scorer is
timed as the score runner drives it: batches of its own size, images read from disk, the
decoded copies dropped after each batch. Loading (weights, ONNX sessions) is timed apart.

`bench_workers` times whole `t2i-audit score RUN --scorers text --workers K` commands (new
processes, imports and OCR loading included) over one ingested run of the same images,
copied to a fresh run directory (empty ledger of scores) for every command, the two sides
alternating round by round; it also checks that both sides stored the same values.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
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
class WorkersBench:
    images: int
    workers: int  # the side under test; the other side is 1 worker (this process alone)
    seconds: dict[int, list[float]]  # workers -> wall seconds of each whole command
    same_values: bool  # every stored score equal on both sides

    def round_ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.seconds[1], self.seconds[self.workers], strict=True)]

    @property
    def ratio(self) -> float:
        """Speed-up: median over rounds of (1-worker seconds / N-worker seconds)."""
        import statistics

        return statistics.median(self.round_ratios())


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
        total, ratios = alternate_rounds(sides, items, batch_size, rounds)
    n = rounds * images
    return ClipBench(images, n / total["scorer"], n / total["direct"], ratios, worst)


def alternate_rounds(
    sides: Mapping[str, Callable[[Sequence[ScoreItem]], object]],
    items: Sequence[ScoreItem],
    batch_size: int,
    rounds: int,
) -> tuple[dict[str, float], list[float]]:
    """Time the "scorer" and "direct" sides over the same items, batch by batch, in rounds
    whose order alternates (machine noise hits both alike): (total seconds per side,
    direct / scorer seconds per round)."""
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
    return total, ratios


def make_text_run(folder: Path, n: int, size: int = 256, *, cells: int = 1) -> Path:
    """An ingested run of `n` PNGs of `make_items` (shapes and a quoted word, so `text` judges
    each one), spread over `cells` sweep cells (steps 1..cells); returns the run directory."""
    from audit.ingest import ingest

    src = folder / "images"
    items = make_items(src, n, size, sign=False)
    lines = [
        json.dumps(
            {
                "file": it.image_path.name,
                "prompt": it.prompt_text,
                "prompt_id": f"p{i}",
                "seed": i,
                "steps": 1 + i % cells,
            }
        )
        for i, it in enumerate(items)
    ]
    (src / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = folder / "run"
    ingest(src, run, quiet=True)
    return run


def stored_scores(run: Path) -> list[tuple[object, ...]]:
    """Every per-image and set-level score of a run, in a fixed order."""
    conn = sqlite3.connect(run / "ledger.sqlite")
    try:
        rows = conn.execute(
            "SELECT key, scorer, metric, value, text FROM scores ORDER BY key, scorer, metric"
        ).fetchall()
        rows += conn.execute(
            "SELECT cell, prompt_id, scorer, metric, value, NULL FROM set_scores "
            "ORDER BY cell, prompt_id, scorer, metric"
        ).fetchall()
    finally:
        conn.close()
    return rows


def bench_workers(
    *, images: int = 60, size: int = 256, workers: int = 2, rounds: int = 2
) -> WorkersBench:
    """Whole `t2i-audit score --scorers text --workers K` commands, K = 1 and `workers`,
    alternating which goes first; each on a fresh copy of the same ingested run."""
    seconds: dict[int, list[float]] = {1: [], workers: []}
    values: dict[int, list[tuple[object, ...]]] = {}
    with tempfile.TemporaryDirectory(prefix="t2i-workersbench-") as tmp:
        template = make_text_run(Path(tmp) / "template", images, size)
        for r in range(rounds):
            for k in (1, workers) if r % 2 == 0 else (workers, 1):
                run = Path(tmp) / f"run-{r}-{k}"
                shutil.copytree(template, run)
                argv = [sys.executable, "-m", "audit", "score", str(run), "--scorers", "text"]
                argv += ["--workers", str(k), "--quiet"]
                start = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
                seconds[k].append(time.perf_counter() - start)
                if done.returncode != 0:
                    raise RuntimeError(
                        f"`t2i-audit score --workers {k}` exited {done.returncode}: "
                        + (done.stderr.strip().splitlines() or [""])[-1]
                    )
                values.setdefault(k, stored_scores(run))
                shutil.rmtree(run)
    same = values[1] == values[workers] and len(values[1]) > 0
    return WorkersBench(images, workers, seconds, same)


WORKERS_TARGET = 1.8  # the goal for 2 workers against 1 on a 2-core machine


def workers_rows(
    *, images: int = 60, size: int = 256, workers: int = 2, rounds: int = 2
) -> list[Any]:
    """The `bench` row: text scoring on `workers` processes against 1, whole commands."""
    from audit.bench.suite import Row, load_average

    b = bench_workers(images=images, size=size, workers=workers, rounds=rounds)
    import statistics

    per = ", ".join(f"{x:.2f}" for x in b.round_ratios())
    median = {k: statistics.median(v) for k, v in b.seconds.items()}
    note = (
        f"whole `t2i-audit score --scorers text` commands, {images} images at {size}px, "
        f"fresh ledger each; {'same values on both sides' if b.same_values else 'VALUES DIFFER'}"
        f"; {os.cpu_count()} CPU cores; per round {per}"
    )
    return [
        Row(
            f"text scoring, {workers} workers / 1 (speed-up)",
            f"{median[workers]:.1f} s",
            f"{median[1]:.1f} s",
            b.ratio,
            f">= {WORKERS_TARGET:g}",
            b.ratio >= WORKERS_TARGET and b.same_values,
            load_average(),
            note,
        )
    ]


@dataclass
class PreferenceBench:
    name: str  # pickscore, hpsv2 or aesthetic
    images: int
    scorer_ips: float
    direct_ips: float
    round_ratios: list[float]  # per round: direct seconds / scorer seconds
    max_diff: float  # largest |scorer - direct| over the images

    @property
    def ratio(self) -> float:
        import statistics

        return statistics.median(self.round_ratios)


def _preference_direct(name: str, options: dict[str, Any]) -> Any:
    """The loop a user would write with the library itself for the preference model `name`
    (each file opened, the model's preprocessing, both encoders, the score), batch by batch."""
    import torch
    from PIL import Image

    def pil(batch: Sequence[ScoreItem]) -> list[Any]:
        out = []
        for it in batch:
            with Image.open(it.image_path) as im:
                out.append(im.convert("RGB"))
        return out

    if name == "pickscore":
        from transformers import AutoModel, AutoProcessor

        processor = AutoProcessor.from_pretrained(options["processor"])
        model = AutoModel.from_pretrained(options["model"]).eval()

        def pickscore(batch: Sequence[ScoreItem]) -> list[float]:
            kw: dict[str, Any] = dict(padding=True, truncation=True, max_length=77)
            with torch.inference_mode():
                pixels = processor(images=pil(batch), return_tensors="pt")
                zi = model.get_image_features(**pixels).pooler_output
                tokens = processor(text=[it.prompt_text for it in batch], return_tensors="pt", **kw)
                zt = model.get_text_features(**tokens).pooler_output
                zi, zt = zi / zi.norm(dim=-1, keepdim=True), zt / zt.norm(dim=-1, keepdim=True)
                return (model.logit_scale.exp() * (zi * zt).sum(-1)).tolist()

        return pickscore

    import open_clip

    from audit.scorers.preference import aesthetic_layers, pad_to_square

    arch = options["arch"] if name == "hpsv2" else options["clip"]
    model, _, preprocess = open_clip.create_model_and_transforms(arch)
    model.eval()
    tokenizer = open_clip.get_tokenizer(arch)
    if name == "hpsv2":
        open_clip.load_checkpoint(model, options["checkpoint"])
        mean, std = model.visual.preprocess_cfg["mean"], model.visual.preprocess_cfg["std"]
        side = int(model.visual.image_size[0])

        def hps(batch: Sequence[ScoreItem]) -> list[float]:
            with torch.inference_mode():
                zi = model.encode_image(pad_to_square(pil(batch), side, mean, std), normalize=True)
                tokens = tokenizer([it.prompt_text for it in batch])
                zt = model.encode_text(tokens, normalize=True)
                return (zi * zt).sum(-1).tolist()

        return hps
    state = torch.load(options["head"], weights_only=True)
    mlp = aesthetic_layers(768)
    mlp.load_state_dict({k.removeprefix("layers."): v for k, v in state.items()})
    mlp.eval()

    def aesthetic(batch: Sequence[ScoreItem]) -> list[float]:
        with torch.inference_mode():
            z = model.encode_image(torch.stack([preprocess(im) for im in pil(batch)]))
            return mlp(z / z.norm(dim=-1, keepdim=True)).squeeze(-1).tolist()

    return aesthetic


def bench_preference(
    *,
    images: int = 32,
    size: int = 256,
    rounds: int = 3,
    batch_size: int = 16,
    models: dict[str, dict[str, Any]] | None = None,
) -> list[PreferenceBench]:
    """pickscore, hpsv2 and aesthetic, each on tiny random models of its architecture, beside
    the same model called directly with its library (`_preference_direct`), rounds
    alternating which side goes first; the scores of both sides are compared too. `models`:
    `tiny_options` already built (else they are built here)."""
    from audit.scorers.preference_tiny import tiny_options
    from audit.scorers.registry import default_registry

    out = []
    with tempfile.TemporaryDirectory(prefix="t2i-prefbench-") as tmp:
        options = models or tiny_options(Path(tmp) / "models")
        items = make_items(Path(tmp) / "images", images, size, sign=False)
        for name, opts in options.items():
            cls = default_registry().get(name)
            scorer = cls(cls.parse_options({**opts, "device": "cpu", "batch_size": batch_size}))
            assert hasattr(scorer, "score_batch")

            def harness(batch: Sequence[ScoreItem], scorer: Any = scorer) -> list[float]:
                rows = scorer.score_batch(batch)
                _drop_images(batch)
                return [float(row[scorer.metric.name]) for row in rows]

            sides = {"scorer": harness, "direct": _preference_direct(name, opts)}
            warm = {side: fn(items[:batch_size]) for side, fn in sides.items()}
            worst = max(abs(a - b) for a, b in zip(warm["scorer"], warm["direct"], strict=True))
            total = {"scorer": 0.0, "direct": 0.0}
            ratios = []
            for r in range(rounds):
                took = {}
                for side in ("scorer", "direct") if r % 2 == 0 else ("direct", "scorer"):
                    start = time.perf_counter()
                    for i in range(0, len(items), batch_size):
                        sides[side](items[i : i + batch_size])
                    took[side] = time.perf_counter() - start
                    total[side] += took[side]
                ratios.append(took["direct"] / took["scorer"])
            n = rounds * images
            ips = (n / total["scorer"], n / total["direct"])
            out.append(PreferenceBench(name, images, *ips, ratios, worst))
    return out
