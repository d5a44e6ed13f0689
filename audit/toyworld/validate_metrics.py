"""`t2i-audit toyworld validate-metrics`: the metrics measured where the truth is known.

In the reference world the "real" distribution is the procedural renderer, so how a metric
should move is known in advance. For every set-level metric (FD, KID, CMMD) in each feature
space available here (toy-CLIP always; CLIP, DINOv2 and Inception when their weights are) and
every alignment metric that runs offline (`clip_score` with toy-CLIP, `toy_score` from the
pixel reader), three checks:

(a) ladders of known distortions of reference renders (Gaussian noise, Gaussian blur, JPEG
    quality, colour shift; 5 levels each): the metric at each level and Spearman's rank
    correlation of metric against level (a set metric should rise: rho near +1; an
    alignment metric should not rise);
(b) `builtin:toy-shapes` against `builtin:toy-shapes-weak` on the toy suite (same prompts
    and seeds): each value with its interval, the difference with a paired-bootstrap
    interval, and whether the metric ranks toy-shapes above the weak checkpoint;
(c) sample size: the value at N = 100, 300, 1,000 (the mean over disjoint draws) against
    N = 3,000, for a set from the reference distribution and for one that truly differs
    (noise sigma 16): FD's bias in N next to KID's and CMMD's.

Set metrics are computed by the scorers' own code (`FrechetReference`, `kid`, `CmmdScorer`)
on features from the same extractors (`make_extractor`); alignment metrics by `ClipScorer`
(`model: toyclip`) and the toycount reader. Intervals are normal intervals from bootstrap
replicates centred on the point estimate, as the fid and cmmd scorers give.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module for its defaults: keep that import light
    import numpy as np

    from audit.toyworld import world

LADDERS: dict[str, tuple[float, ...]] = {
    "noise": (4, 8, 16, 32, 64),  # Gaussian noise sigma, grey levels (0-255)
    "blur": (0.5, 1.0, 1.5, 2.0, 3.0),  # PIL GaussianBlur radius, pixels
    "jpeg": (90, 70, 50, 30, 10),  # JPEG quality (lower = worse)
    "color": (8, 16, 32, 48, 64),  # red up, blue down by this many grey levels
}
SIZES = (100, 300, 1000)
BIG = 3000
REFERENCE_SEED = 20261201
LADDER_SEED = 20261202
POOL_SEED = 20261203
Row = dict[str, Any]


def distort(image: Any, ladder: str, level: float, rng: np.random.Generator) -> Any:
    """`image` (PIL RGB) with one known distortion at `level`."""
    import numpy as np
    from PIL import Image, ImageFilter

    if ladder == "noise":
        x = np.asarray(image, dtype=np.float64) + rng.normal(0.0, level, (*image.size[::-1], 3))
        return Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    if ladder == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=level))
    if ladder == "jpeg":
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=int(level))
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if ladder == "color":
        shifted = np.asarray(image, np.int16) + np.array([level, 0, -level], np.int16)
        return Image.fromarray(np.clip(shifted, 0, 255).astype(np.uint8))
    raise ValueError(f"unknown ladder {ladder!r}; use one of {', '.join(LADDERS)}")


def expectations(scene: world.Scene) -> Any:
    """What a correct image of `scene` shows, as a prompt's `expect` (GenEval's form)."""
    from audit.prompts.model import Expectations, ObjectExpectation

    if scene.kind == "count":
        s = scene.shapes[0]
        obj = ObjectExpectation(name=s.shape, count=len(scene.shapes), color=s.color)
        return Expectations(objects=(obj,))
    if scene.kind == "pair":
        a, b = scene.shapes
        placed = {"name": a.shape, "color": a.color, "position": (scene.relation, 0)}
        return Expectations(
            objects=(
                ObjectExpectation(name=b.shape, color=b.color),
                ObjectExpectation.model_validate(placed),
            )
        )
    return Expectations()  # glyphs: nothing for the shape reader to judge


# ---------------------------------------------------------------- the metrics


@dataclass
class SetMetrics:
    """FD, KID and CMMD in one feature space against one fixed reference sample."""

    features: str  # extractor kind
    extract: Callable[[Sequence[Any]], np.ndarray]
    reference: np.ndarray
    kid_subsets: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        import numpy as np

        from audit.scorers.cmmd import CmmdOptions, CmmdScorer, cmmd_stem
        from audit.scorers.fid import kid_stem, metric_stem
        from audit.scorers.frechet import poly_kernel
        from audit.scorers.frechet_reference import FrechetReference

        ref = np.asarray(self.reference, np.float64)
        self._frechet = FrechetReference(ref.mean(0), np.cov(ref, rowvar=False))
        self._ref_kernel = poly_kernel(ref, ref)
        self._cmmd = CmmdScorer(
            CmmdOptions(reference="-", extractor=self.features, bootstrap=0, seed=self.seed)
        )
        self._cmmd.use_reference(ref)
        self.names = {
            "fd": metric_stem(self.features),
            "kid": f"{kid_stem(self.features)}_mean",
            "cmmd": cmmd_stem(self.features),
        }

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        import numpy as np

        from audit.scorers.frechet import kid

        x = np.asarray(x, np.float64)
        fd = self._frechet.distance(x.mean(0), np.cov(x, rowvar=False))
        k = kid(
            self.reference,
            x,
            subsets=self.kid_subsets,
            subset_size=min(1000, len(x)),
            seed=self.seed,
            real_kernel=self._ref_kernel,
        )
        self._cmmd.reset()
        self._cmmd.update_features(x)
        cmmd = self._cmmd.compute()[self.names["cmmd"]]
        assert isinstance(cmmd, float)
        return {self.names["fd"]: fd, self.names["kid"]: k.mean, self.names["cmmd"]: cmmd}


class Alignment:
    """Per-image alignment metrics that run offline: toy-CLIP's `clip_score` (the clip scorer
    with `model: toyclip`) and toycount's `toy_score` (None where there is nothing to judge)."""

    names = ("clip_score", "toy_score")

    def __init__(self, device: str = "cpu") -> None:
        from audit.scorers.clip import ClipOptions, ClipScorer
        from audit.toyworld.toycount import ToyCountScorer

        self._clip = ClipScorer(ClipOptions(model="toyclip", device=device, batch_size=64))
        self._count = ToyCountScorer()

    def rows(self, images: Sequence[Any], texts: Sequence[str], expects: Sequence[Any]) -> Any:
        """[n, 2] float array (NaN = not applicable)."""
        import numpy as np

        from audit.scorers.clip import clip_score_from_cosine

        cos = self._clip.cosines(list(images), list(texts))
        out = np.full((len(images), 2), np.nan)
        for i, (image, expect) in enumerate(zip(images, expects, strict=True)):
            out[i, 0] = clip_score_from_cosine(float(cos[i]))
            score = self._count.score_one(image, expect)["toy_score"]
            if isinstance(score, float):
                out[i, 1] = score
        return out


def _nanmean(a: Any) -> float:
    import numpy as np

    a = np.asarray(a, np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


# ---------------------------------------------------------------- the checks


def _spaces(extractors: Sequence[str], device: str, log: Callable[[str], None]) -> list[Any]:
    """(kind, ExtractorSpec) for each extractor asked for that can run here; "auto" = toyclip
    and every other built-in kind whose weights are present."""
    from audit.scorers.base import missing
    from audit.scorers.cmmd import CLIP_MODEL
    from audit.scorers.features import ExtractorSpec, extractor_requirements

    kinds = list(extractors)
    auto = "auto" in kinds
    if auto:
        kinds = ["toyclip", "clip", "dinov2", "inception"]
    out = []
    for kind in kinds:
        spec = ExtractorSpec(
            kind=kind,
            resize="clean",
            model=CLIP_MODEL if kind == "clip" else "ViT-L-14",
            device=device,
            batch_size=64,
        )
        with _hub_offline(auto):  # auto: only weights already here, never a download
            lacking = missing(extractor_requirements(spec))
        if lacking:
            log(f"features {kind}: skipped, needs {lacking[0].what}")
            continue
        out.append((kind, spec))
    return out


@contextlib.contextmanager
def _hub_offline(on: bool) -> Iterator[None]:
    """Requirements read as if offline: a hub model counts only when it is in the cache."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = saved or on
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _render(seed: int, n: int) -> tuple[list[Any], list[Any]]:
    import numpy as np
    from PIL import Image

    from audit.toyworld.world import render, sample_scene

    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    return scenes, [Image.fromarray(render(s)) for s in scenes]


def spearman(levels: Sequence[float], values: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(levels, values).statistic)


def ladder_rows(
    spaces: list[SetMetrics],
    alignment: Alignment,
    scenes: Sequence[Any],
    images: Sequence[Any],
    *,
    seed: int,
    log: Callable[[str], None],
) -> list[Row]:
    """(a): every metric at the clean level and at each level of every ladder."""
    import numpy as np

    texts = [s.captions[0] for s in scenes]
    expects = [expectations(s) for s in scenes]

    def measure(batch: Sequence[Any]) -> dict[str, float]:
        values: dict[str, float] = {}
        for space in spaces:
            values.update(space(space.extract(batch)))
        per_image = alignment.rows(batch, texts, expects)
        for j, name in enumerate(alignment.names):
            values[name] = _nanmean(per_image[:, j])
        return values

    clean = measure(images)
    rows: list[Row] = []
    for ladder, levels in LADDERS.items():
        rng = np.random.default_rng([seed, list(LADDERS).index(ladder)])
        series = [measure([distort(im, ladder, lv, rng) for im in images]) for lv in levels]
        severity = list(range(1, len(levels) + 1))  # 1 = mildest (JPEG: highest quality)
        for name in clean:
            values = [s[name] for s in series]
            rho = spearman(severity, values)
            rows.append(
                {
                    "metric": name,
                    "family": family(name),
                    "ladder": ladder,
                    "levels": list(levels),
                    "clean": clean[name],
                    "values": values,
                    "spearman": rho,
                }
            )
        log(f"ladder {ladder} done")
    return rows


def family(metric: str) -> str:
    """fd / kid / cmmd / alignment: which kind of metric a name is."""
    if metric == "fid" or metric.startswith("fd_"):
        return "fd"
    if metric.startswith("kid"):
        return "kid"
    if metric.startswith("cmmd"):
        return "cmmd"
    return "alignment"


def direction(metric: str) -> str:
    return "higher" if family(metric) == "alignment" else "lower"


def ranking_rows(
    spaces: list[SetMetrics],
    alignment: Alignment,
    *,
    seeds: int,
    steps: int,
    guidance: float,
    bootstrap: int,
    ci_level: float,
    seed: int,
    weights: Any,
    n_prompts: int | None = None,
    device: str,
    log: Callable[[str], None],
) -> list[Row]:
    """(b): toy-shapes against toy-shapes-weak, paired over (prompt, seed)."""
    import numpy as np

    from audit.prompts.loader import load_suite
    from audit.scorers.frechet import normal_interval
    from audit.toyworld.validate import generate, load_pipeline

    prompts = load_suite("toy", ".").prompts[:n_prompts]
    texts = [p.text for p in prompts for _ in range(seeds)]
    expects = [p.expect for p in prompts for _ in range(seeds)]
    feats: dict[str, dict[str, np.ndarray]] = {}
    per_image: dict[str, np.ndarray] = {}
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # the loading bars would interleave with the log
    for model in ("toy-shapes", "toy-shapes-weak"):
        pipe = load_pipeline(weights / model, device)
        images = generate(pipe, [p.text for p in prompts], list(range(seeds)), steps, guidance)
        feats[model] = {s.features: s.extract(images) for s in spaces}
        per_image[model] = alignment.rows(images, texts, expects)
        log(f"{model}: {len(images)} images generated and measured")

    def values(model: str, idx: np.ndarray) -> dict[str, float]:
        out: dict[str, float] = {}
        for space in spaces:
            out.update(space(feats[model][space.features][idx]))
        for j, name in enumerate(alignment.names):
            out[name] = _nanmean(per_image[model][idx, j])
        return out

    n = len(texts)
    everything = np.arange(n)
    point = {m: values(m, everything) for m in feats}
    rng = np.random.default_rng(seed)
    reps: dict[str, list[dict[str, float]]] = {m: [] for m in feats}
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)  # one resample of (prompt, seed) pairs for both models
        for m in feats:
            reps[m].append(values(m, idx))
    rows: list[Row] = []
    for name in point["toy-shapes"]:
        sign = 1.0 if direction(name) == "higher" else -1.0

        def interval(p: float, r: list[float]) -> list[float]:
            return list(normal_interval(p, np.asarray(r, np.float64), ci_level))

        strong, weak = point["toy-shapes"][name], point["toy-shapes-weak"][name]
        s_reps = [r[name] for r in reps["toy-shapes"]]
        w_reps = [r[name] for r in reps["toy-shapes-weak"]]
        diff = sign * (strong - weak)  # > 0: toy-shapes is better
        d_reps = [sign * (a - b) for a, b in zip(s_reps, w_reps, strict=True)]
        d_ci = interval(diff, d_reps)
        rows.append(
            {
                "metric": name,
                "family": family(name),
                "direction": direction(name),
                "toy_shapes": strong,
                "toy_shapes_ci": interval(strong, s_reps),
                "toy_shapes_weak": weak,
                "toy_shapes_weak_ci": interval(weak, w_reps),
                "advantage": diff,
                "advantage_ci": d_ci,
                "ranks_toy_shapes_above_weak": bool(diff > 0),
                "separated": bool(d_ci[0] > 0),
                "n": n,
            }
        )
    return rows


def sample_size_rows(
    spaces: list[SetMetrics],
    *,
    sizes: Sequence[int],
    big: int,
    seed: int,
    log: Callable[[str], None],
) -> list[Row]:
    """(c): values at each N (mean and spread over disjoint draws) against N = `big`."""
    import numpy as np

    _, pool = _render(POOL_SEED, big)
    rng = np.random.default_rng([seed, 99])
    sets = {
        "reference distribution": pool,
        "noise sigma 16": [distort(im, "noise", 16, rng) for im in pool],
    }
    rows: list[Row] = []
    for label, images in sets.items():
        for space in spaces:
            x = space.extract(images)
            full = space(x)
            for n in [*sizes, big]:
                draws = [space(x[i : i + n]) for i in range(0, big - n + 1, n)][:5]
                for name in full:
                    vals = np.asarray([d[name] for d in draws])
                    rows.append(
                        {
                            "set": label,
                            "metric": name,
                            "family": family(name),
                            "n": n,
                            "value": float(vals.mean()),
                            "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                            "draws": len(vals),
                            "relative_to_n_big": float(vals.mean() / full[name])
                            if full[name]
                            else float("nan"),
                        }
                    )
        log(f"sample sizes, {label}: done")
    return rows


def validate_metrics(
    *,
    n_reference: int = 1000,
    n_ladder: int = 300,
    seeds: int = 4,
    n_prompts: int | None = None,
    steps: int = 10,
    guidance: float = 3.0,
    sizes: Sequence[int] = SIZES,
    big: int = BIG,
    bootstrap: int = 100,
    ci_level: float = 0.95,
    extractors: Sequence[str] = ("auto",),
    device: str = "cpu",
    seed: int = 0,
    weights: Any = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (a), (b) and (c); returns the JSON-ready result (see the module docstring)."""
    from audit.scorers.features import make_extractor
    from audit.toyworld.validate import WEIGHTS

    say = log or (lambda _m: None)
    start = time.time()
    weights = WEIGHTS if weights is None else weights
    _, ref_images = _render(REFERENCE_SEED, n_reference)
    spaces = []
    for kind, spec in _spaces(extractors, device, say):
        extractor = make_extractor(spec)
        spaces.append(SetMetrics(kind, extractor, extractor(ref_images), seed=seed))
        say(f"features {kind}: {extractor.name}, {extractor.dim}-d")
    alignment = Alignment(device)
    scenes, ladder_images = _render(LADDER_SEED, n_ladder)
    ladders = ladder_rows(spaces, alignment, scenes, ladder_images, seed=seed, log=say)
    ranking = ranking_rows(
        spaces,
        alignment,
        seeds=seeds,
        steps=steps,
        guidance=guidance,
        bootstrap=bootstrap,
        ci_level=ci_level,
        seed=seed,
        weights=weights,
        device=device,
        log=say,
        n_prompts=n_prompts,
    )
    sample = sample_size_rows(spaces, sizes=sizes, big=big, seed=seed, log=say)
    names = list(dict.fromkeys(r["metric"] for r in ranking))
    return {
        "config": {
            "n_reference": n_reference,
            "n_ladder": n_ladder,
            "ladders": {k: list(v) for k, v in LADDERS.items()},
            "models": {
                "suite": "toy",
                "prompts": ranking[0]["n"] // seeds if ranking else 0,
                "seeds": seeds,
                "steps": steps,
                "guidance": guidance,
                "sampler": "ddim",
            },
            "sizes": [*sizes, big],
            "bootstrap": bootstrap,
            "ci_level": ci_level,
            "features": [s.features for s in spaces],
            "seed": seed,
        },
        "metrics": [{"metric": m, "family": family(m), "direction": direction(m)} for m in names],
        "ladders": ladders,
        "ranking": ranking,
        "sample_size": sample,
        "seconds": round(time.time() - start, 1),
    }


# ---------------------------------------------------------------- tables


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def format_tables(result: dict[str, Any]) -> str:
    """The three tables as text: ladders (Spearman rho per ladder), ranking, sample size."""
    ladders = list(LADDERS)
    by_metric: dict[str, dict[str, float]] = {}
    for r in result["ladders"]:
        by_metric.setdefault(r["metric"], {})[r["ladder"]] = r["spearman"]
    a = _table(
        ["metric", *(f"rho {k}" for k in ladders)],
        [[m, *(v.get(k, float("nan")) for k in ladders)] for m, v in by_metric.items()],
    )
    b = _table(
        ["metric", "toy-shapes", "interval", "weak", "interval", "advantage", "interval", "ranks"],
        [
            [
                r["metric"],
                r["toy_shapes"],
                r["toy_shapes_ci"],
                r["toy_shapes_weak"],
                r["toy_shapes_weak_ci"],
                r["advantage"],
                r["advantage_ci"],
                "yes" if r["ranks_toy_shapes_above_weak"] else "no",
            ]
            for r in result["ranking"]
        ],
    )
    sizes = result["config"]["sizes"]
    table: dict[tuple[str, str], dict[int, float]] = {}
    for r in result["sample_size"]:
        table.setdefault((r["set"], r["metric"]), {})[r["n"]] = r["value"]
    c = _table(
        ["set", "metric", *(f"N={n}" for n in sizes), f"N={sizes[0]} / N={sizes[-1]}"],
        [
            [s, m, *(v[n] for n in sizes), v[sizes[0]] / v[sizes[-1]] if v[sizes[-1]] else "-"]
            for (s, m), v in table.items()
        ],
    )
    return "\n\n".join(
        [
            "(a) Spearman rho of metric against distortion level (5 levels each)\n" + a,
            "(b) toy-shapes against toy-shapes-weak (advantage > 0: toy-shapes better)\n" + b,
            "(c) value against sample size N (mean over disjoint draws)\n" + c,
        ]
    )
