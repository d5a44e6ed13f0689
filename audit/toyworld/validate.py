"""`t2i-audit toyworld validate`: measured numbers that show the toy world works.

Rows (dicts with `check`, `model`, `steps`, `guidance`, `metric`, `value`, `n`):

* the pixel reader against the truth of `n_reader` procedural samples (counts, colours,
  positions: must be 1.0);
* toy-CLIP: retrieval accuracy on procedural samples;
* `builtin:toy-shapes` on the toy suite (with `sampler`) at each of `steps` (at `guidance`),
  at the most steps with each of `also_guidance` (to find the best setting), and
  `builtin:toy-shapes-weak` at the most steps and `guidance`: toycount accuracies, toy-CLIP
  alignment of matched vs shuffled prompts, and `fd_toyclip` against procedural renders.

Run as `python -m audit.toyworld.validate` too; both commands' options are in
`audit.cli.toyworld`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module for its defaults: keep that import light
    import numpy as np

    from audit.toyworld import reader, world

WEIGHTS = Path(__file__).parent / "weights"
Row = dict[str, Any]


def reader_accuracy(n: int, seed: int = 12345) -> dict[str, float]:
    """Fraction of `n` procedural scenes the reader gets exactly right, per aspect."""
    from audit.toyworld import reader, world

    scenes = world.dataset(seed, n)
    ok_count = ok_color = ok_pos = n_pos = 0
    for scene in scenes:
        found = reader.read(world.render(scene))
        ok_count += reader.counts(found) == scene.counts()
        ok_color += sorted(f.color for f in found) == sorted(s.color for s in scene.shapes)
        if scene.kind == "pair":
            n_pos += 1
            ok_pos += _pair_ok(scene, found)
    return {
        "count_accuracy": ok_count / n,
        "color_accuracy": ok_color / n,
        "position_accuracy": ok_pos / max(1, n_pos),
    }


def _pair_ok(scene: world.Scene, found: list[reader.Found]) -> bool:
    """Both objects found once, each box within a pixel of the truth, relation holds."""
    from audit.toyworld import world

    centres = []
    for shape in scene.shapes:
        match = [f for f in found if (f.shape, f.color) == (shape.shape, shape.color)]
        if len(match) != 1:
            return False
        box = match[0].box
        if max(abs(a - b) for a, b in zip(box, shape.box, strict=True)) > 1:
            return False
        centres.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
    assert scene.relation is not None
    return world.holds(scene.relation, centres[0], centres[1], margin=3)


def load_pipeline(directory: Path, device: str = "cpu", sampler: str = "ddim") -> Any:
    """The toy model through the same loader as any local diffusers directory, with one of
    the harness's samplers (`t2i-audit samplers`) built from its scheduler config."""
    from diffusers import StableDiffusionPipeline

    from audit.generate.samplers import get_sampler, make_scheduler

    pipe = StableDiffusionPipeline.from_pretrained(
        str(directory), safety_checker=None, feature_extractor=None
    ).to(device)
    if sampler != "ddim":
        pipe.scheduler = make_scheduler(get_sampler(sampler), pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(
    pipe: Any, prompts: Sequence[str], seeds: Sequence[int], steps: int, guidance: float
) -> list[Any]:
    """One image per (prompt, seed), each from its own CPU generator (batch-independent)."""
    import torch

    out: list[Any] = []
    pairs = [(p, s) for p in prompts for s in seeds]
    for i in range(0, len(pairs), 16):
        chunk = pairs[i : i + 16]
        gens = [torch.Generator().manual_seed(s) for _, s in chunk]
        result = pipe(
            [p for p, _ in chunk],
            height=64,
            width=64,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=gens,
        )
        out.extend(result.images)
    return out


def _to_tensor(images: Sequence[Any]) -> Any:
    import numpy as np
    import torch

    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2)


def fd_features(images: Sequence[Any], feature_fn: Callable[[Any], Any]) -> np.ndarray:
    import numpy as np

    return np.asarray(feature_fn(_to_tensor(images)).double().numpy())


def fd(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    from audit.scorers.frechet import frechet_distance

    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def suite_metrics(
    images: Sequence[Any],
    prompts: Sequence[Any],
    seeds: Sequence[int],
    clip: tuple[Any, Callable[[Sequence[str]], Any]],
    reference: np.ndarray,
    feature_fn: Callable[[Any], Any],
) -> dict[str, tuple[float, int]]:
    """Metric -> (value, n) over images laid out prompt-major (prompt 0 seeds..., prompt 1)."""
    import numpy as np
    import torch

    from audit.toyworld.toycount import ToyCountScorer

    scorer = ToyCountScorer()
    rows = []
    texts = []
    for i, image in enumerate(images):
        prompt = prompts[i // len(seeds)]
        rows.append(scorer.score_one(image, prompt.expect))
        texts.append(prompt.text)
    out: dict[str, tuple[float, int]] = {}
    for name in ("toy_count_correct", "toy_color_correct", "toy_position_correct", "toy_score"):
        vals = [float(v) for r in rows if isinstance(v := r[name], float)]
        out[name] = (float(np.mean(vals)) if vals else float("nan"), len(vals))
    image_enc, text_fn = clip
    with torch.no_grad():
        img = image_enc(_to_tensor(images))
        distinct = [p.text for p in prompts]
        txt = text_fn(distinct)
    index = [i // len(seeds) for i in range(len(images))]
    shuffled = [(k + len(distinct) // 2) % len(distinct) for k in index]  # another prompt
    matched = (img * txt[index]).sum(-1)
    other = (img * txt[shuffled]).sum(-1)
    out["toyclip_matched"] = (float(matched.mean()), len(images))
    out["toyclip_shuffled"] = (float(other.mean()), len(images))
    out["fd_toyclip"] = (fd(fd_features(images, feature_fn), reference), len(images))
    return out


def validate(
    *,
    n_reader: int = 1000,
    steps: Sequence[int] = (2, 5, 10, 25),
    guidance: float = 3.0,
    also_guidance: Sequence[float] = (),
    sampler: str = "ddim",
    seeds: Sequence[int] = (0, 1),
    n_reference: int = 500,
    weights: Path = WEIGHTS,
    device: str = "cpu",
    categories: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Row]:
    """Measure everything; returns rows (see module docstring). Heavy: minutes on CPU."""
    import numpy as np
    import torch

    from audit.generate.samplers import get_sampler
    from audit.prompts.loader import load_suite
    from audit.toyworld import toyclip, world

    get_sampler(sampler, field="sampler")  # a wrong name fails before minutes of work
    say = log or (lambda _m: None)
    rows: list[Row] = []

    def add(
        check: str, model: str, n_steps: Any, metric: str, value: float, n: int, g: Any = ""
    ) -> None:
        rows.append(
            dict(
                check=check, model=model, steps=n_steps, guidance=g, metric=metric, value=value, n=n
            )
        )

    t0 = time.time()
    for metric, value in reader_accuracy(n_reader).items():
        add("reader", "procedural", "", metric, value, n_reader)
    say(f"reader done ({time.time() - t0:.0f}s)")

    clip = toyclip.load_toyclip(weights / "toyclip")
    feats = toyclip.feature_module(weights / "toyclip")

    def feature_fn(x: Any) -> Any:
        return feats(x)

    ref_scenes = world.dataset(777, n_reference)
    ref_images = [world.render(s) for s in ref_scenes]
    from PIL import Image

    ref_pil = [Image.fromarray(a) for a in ref_images]
    reference = fd_features(ref_pil, feature_fn)
    k = min(200, n_reference)
    with torch.no_grad():
        img = clip[0](_to_tensor(ref_pil[:k]))
        txt = clip[1]([s.captions[0] for s in ref_scenes[:k]])
        sims = img @ txt.T
    caps = [s.captions[0] for s in ref_scenes[:k]]
    hits = [caps[int(sims[i].argmax())] == caps[i] for i in range(k)]
    add("toyclip", "procedural", "", f"retrieval_top1_of_{k}", float(np.mean(hits)), k)

    suite = load_suite("toy", ".")
    prompts = [p for p in suite.prompts if categories is None or p.category in categories]
    texts = [p.text for p in prompts]
    plan = [("toy-shapes", s, guidance) for s in steps]
    plan += [("toy-shapes", max(steps), g) for g in also_guidance if g != guidance]
    plan += [("toy-shapes-weak", max(steps), guidance)]
    pipes: dict[str, Any] = {}
    for model, n_steps, g in plan:
        if model not in pipes:
            pipes[model] = load_pipeline(weights / model, device, sampler)
        images = generate(pipes[model], texts, seeds, n_steps, g)
        metrics = suite_metrics(images, prompts, seeds, clip, reference, feature_fn)
        for metric, (value, n) in metrics.items():
            add("suite", f"builtin:{model}", n_steps, metric, value, n, g)
        say(f"{model} steps {n_steps} guidance {g} done ({time.time() - t0:.0f}s)")
    return rows


def format_table(rows: Sequence[Row]) -> str:
    cols = ["check", "model", "steps", "guidance", "metric", "value", "n"]
    cells = [[_fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    # Run as a script, this file is a program entry point like audit/__main__.py, not a part
    # of the library: its options live in audit.cli.toyworld, which imports this module (so
    # the CLI is named here by string, not by an import).
    import importlib

    raise SystemExit(importlib.import_module("audit.cli.toyworld").validate_main())
