"""CMMD (Jayasumana et al., 2024, "Rethinking FID"), per group, against a reference.

The maximum mean discrepancy between the generated images' and the reference images' CLIP
embeddings, with a Gaussian RBF kernel of bandwidth sigma = 10, scaled by 1000, computed as
the paper's reference code computes it (google-research/google-research ``cmmd/distance.py``):
the minimum-variance (biased) estimator of Gretton et al. (2012), Eq. 5,

    CMMD = 1000 * (mean k(x, x') + mean k(y, y') - 2 mean k(x, y)),
    k(a, b) = exp(-|a - b|^2 / (2 sigma^2)),  |a - b|^2 = |a|^2 + |b|^2 - 2 a.b,

every mean over all pairs, the diagonal included. The reference code runs in float32 (JAX's
default), whose cancellation in that difference costs about 1e-3 absolute at CMMD ~ 1; this
runs in float64 and equals the same code run with ``jax_enable_x64`` (tests/scorers/
test_cmmd.py records both).

The embeddings are the reference's: unit rows of CLIP ViT-L/14 at 336 px
(``openai/clip-vit-large-patch14-336`` through transformers, a hub id or a local directory),
preprocessed as ``cmmd/io_util.py`` does (centred square, PIL bicubic from 8 bits, ``/ 255``,
CLIP's mean and std; `resize: native`). Any other extractor works too, and names the metric:
``cmmd`` for CLIP, ``cmmd_<kind>`` otherwise (``cmmd_toyclip``, ``cmmd_dinov2``). Rows are
made unit vectors (`normalize`, on by default) whatever the extractor, as the paper's CLIP
embeddings are: sigma = 10 is sized for them.

Streaming: a group's embeddings accumulate as they come (n x d floats; CMMD needs every pair;
in a parallel run workers embed chunks, `partial`, and the driver appends them, `merge`);
the reference side is the `fid` scorer's reference statistics (`t2i-audit reference build`),
whose stored sample of feature rows holds every reference image up to its reservoir size
(4,000 by default; the paper used 30,000 COCO images); its kernel mean is computed once per
scorer. The interval is FID's: Poisson-bootstrap replicates of the generated set (the
reference fixed), normal interval centred on the point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from audit.scorers.base import Metric, Requirement, ScoreItem, ScorerOptions, SetScorer, Value
from audit.scorers.features import ExtractorSpec, ResizeMode, extractor_loads

SIGMA = 10.0  # the reference code's _SIGMA
SCALE = 1000.0  # the reference code's _SCALE
CLIP_MODEL = "openai/clip-vit-large-patch14-336"  # the paper's ViT-L/14 at 336 px
CHUNK_BYTES = 64 * 2**20  # one block of kernel values at a time


class CmmdOptions(ScorerOptions):
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {
        "weights",
        "reference_root",
    }

    # Name under <reference_root>/references/, a folder, or builtin:NAME. Optional only so
    # that `doctor` can list what the default extractor needs; scoring needs it.
    reference: str | None = None
    reference_root: Path = Path("reports")
    extractor: str = "clip"  # clip | dinov2 | inception | a registered kind (toyclip)
    # The extractor's model: for clip a transformers hub id or directory, or an open_clip
    # architecture (with `pretrained`); for dinov2 a DINOv2 hub id or directory.
    model: str | None = None
    pretrained: str = "openai"
    revision: str | None = None
    weights: Path | None = None
    resize: ResizeMode = "native"
    normalize: bool = True  # unit rows, as the reference's CLIP embeddings
    bootstrap: int = Field(default=100, ge=0)  # Poisson replicates; 0 = no interval
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    batch_size: int = Field(default=32, ge=1)
    device: str | None = None
    seed: int = 0
    extractor_options: dict[str, Any] = Field(default_factory=dict)


def cmmd_stem(extractor: str) -> str:
    """cmmd / cmmd_<kind>: the metric's name for an extractor kind."""
    return "cmmd" if extractor == "clip" else f"cmmd_{extractor}"


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _blocks(rows: int, cols: int) -> list[tuple[int, int]]:
    step = max(1, CHUNK_BYTES // (8 * max(1, cols)))
    return [(i, min(rows, i + step)) for i in range(0, rows, step)]


def rbf_block(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """exp(-gamma (|a|^2 + |b|^2 - 2 a.b)), the reference code's expression, float64."""
    gamma = 1.0 / (2.0 * SIGMA**2)
    return np.exp(-gamma * (-2.0 * (a @ b.T) + a_sq[:, None] + b_sq[None, :]))


def kernel_mean(x: np.ndarray, y: np.ndarray) -> float:
    """mean over all pairs of k(x_i, y_j), blockwise (never the whole matrix at once)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x_sq, y_sq = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    total = 0.0
    for i, j in _blocks(len(x), len(y)):
        total += float(rbf_block(x[i:j], y, x_sq[i:j], y_sq).sum())
    return total / (len(x) * len(y))


def mmd(x: np.ndarray, y: np.ndarray) -> float:
    """The reference code's `distance.mmd(x, y)` in float64 (rows as given, no normalising)."""
    return SCALE * (kernel_mean(x, x) + kernel_mean(y, y) - 2.0 * kernel_mean(x, y))


def weighted_terms(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each column w of `weights` [n, B]: (w^T Kxx w / (sum w)^2, w^T Kxy 1 / (m sum w)),
    the x-x and x-y kernel means of a set holding image i w_i times. Blockwise."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.asarray(weights, np.float64)
    x_sq, y_sq = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    quad = np.zeros(w.shape[1])
    cross = np.zeros(w.shape[1])
    for i, j in _blocks(len(x), max(len(x), len(y))):
        kxx = rbf_block(x[i:j], x, x_sq[i:j], x_sq)
        quad += np.einsum("ib,ib->b", w[i:j], kxx @ w)
        row_means = rbf_block(x[i:j], y, x_sq[i:j], y_sq).mean(axis=1)
        cross += row_means @ w[i:j]
    total = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return quad / total**2, cross / total


class CmmdScorer(SetScorer[CmmdOptions]):
    name = "cmmd"
    version = "1"
    offline = False  # CLIP weights are not shipped (toy-CLIP is: `extractor: toyclip`)
    mergeable = True  # embeddings in workers, appended in the driver (`partial`, `merge`)

    def __init__(self, options: CmmdOptions | None = None) -> None:
        super().__init__(options)
        self._extractor: Any = None
        self._reference: Any = None
        self._ref_rows: np.ndarray | None = None
        self._ref_kyy: float | None = None
        self.reset()

    # ------------------------------------------------------------ declarations

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        from audit.scorers.features import extractor_requirements
        from audit.scorers.reference import reference_requirement

        opts = options if isinstance(options, CmmdOptions) else CmmdOptions()
        if opts.reference is None:
            reqs = [
                Requirement(
                    "option 'reference' (reference embeddings to compare against)",
                    ok=False,
                    fix="add `reference: NAME` under the cmmd scorer's options (statistics "
                    "from `t2i-audit reference build`, as the fid scorer uses)",
                )
            ]
        else:
            reqs = [reference_requirement(opts.reference, opts.reference_root)]
        return extractor_requirements(cls(opts).extractor_spec()) + reqs

    def metrics(self) -> list[Metric]:
        stem = cmmd_stem(self.options.extractor)
        level = f"{self.options.ci_level:.0%}"
        return [
            Metric(stem, "lower", description=f"CMMD to the reference ({self._what})"),
            Metric(f"{stem}_ci_low", "none", description=f"{level} Poisson-bootstrap bound"),
            Metric(f"{stem}_ci_high", "none", description=f"{level} Poisson-bootstrap bound"),
        ]

    @property
    def _what(self) -> str:
        o = self.options
        spec = self.extractor_spec()
        ext = spec.kind if spec.kind != "clip" else f"clip:{spec.model}"
        unit = ", unit rows" if o.normalize else ""
        return f"extractor {ext}, resize {o.resize}{unit}, reference {o.reference}"

    def label(self) -> str:
        return f"{self.name}/{self.version}: RBF sigma {SIGMA:g} x {SCALE:g}, {self._what}"

    def extractor_spec(self) -> ExtractorSpec:
        o = self.options
        options = dict(o.extractor_options)
        if o.revision is not None:
            options.setdefault("revision", o.revision)
        model = "ViT-L-14"  # ExtractorSpec's default (an open_clip name)
        if o.extractor == "clip":
            model = o.model or CLIP_MODEL
        elif o.model is not None:
            options.setdefault("model", o.model)
        return ExtractorSpec(
            kind=o.extractor,
            resize=o.resize,
            weights=str(o.weights) if o.weights else None,
            model=model,
            pretrained=o.pretrained,
            device=o.device,
            batch_size=o.batch_size,
            options=options,
        )

    def loads(self) -> dict[str, str]:
        from audit.scorers.reference import reference_digest

        o = self.options
        ref = "none" if o.reference is None else reference_digest(o.reference, o.reference_root)
        return {**extractor_loads(self.extractor_spec()), "reference": ref}

    # ------------------------------------------------------------ lazy set-up

    def _setup(self) -> None:
        """Load the reference (identity checked early where it is known) and the network."""
        if self._extractor is not None:
            return
        from audit.scorers.features import expected_name, make_extractor

        spec = self.extractor_spec()
        name = expected_name(spec)
        if name is not None:
            self._load_reference(name)
        extractor = make_extractor(spec)
        self._load_reference(extractor.name)  # custom kind: its identity is known only now
        self._extractor = extractor

    def _load_reference(self, extractor: str) -> None:
        """The reference statistics, built with `extractor` (by name) and this resize mode;
        their stored feature rows become the reference embeddings. The driver of a parallel
        run loads only these."""
        from audit.errors import UserError
        from audit.scorers.reference import load_reference

        if self._reference is not None and self._reference.extractor == extractor:
            return
        o = self.options
        if o.reference is None:
            raise UserError(
                "the cmmd scorer has no reference",
                field="scorers.cmmd.reference",
                fix="add `reference: NAME` (statistics from `t2i-audit reference build`)",
            )
        ref = load_reference(o.reference, o.reference_root, extractor=extractor, resize=o.resize)
        self.use_reference(ref.reservoir)
        self._reference = ref

    def use_reference(self, rows: np.ndarray) -> None:
        """Compare against these reference embeddings (`_setup` passes the reference's stored
        feature rows; tests pass arrays). Their kernel mean is computed here, once."""
        y = np.asarray(rows, dtype=np.float64)
        if y.ndim != 2 or y.shape[0] < 1:
            raise ValueError(f"reference embeddings must be [m, d] with m >= 1, got {y.shape}")
        self._ref_rows = unit_rows(y) if self.options.normalize else y
        self._ref_kyy = kernel_mean(self._ref_rows, self._ref_rows)

    # ------------------------------------------------------------ streaming

    def reset(self) -> None:
        self._rows: list[np.ndarray] = []

    def update(self, items: Sequence[ScoreItem]) -> None:
        self.merge(self.partial(items))

    def partial(self, items: Sequence[ScoreItem]) -> dict[str, Any]:
        """The chunk's embeddings through the network (the costly part), for `merge`."""
        self._setup()
        rows = self._extractor([it.image() for it in items])
        return {"extractor": self._extractor.name, "rows": rows}

    def merge(self, state: dict[str, Any]) -> None:
        """Append a chunk's embeddings (chunks in order: the bootstrap weights follow it)."""
        self._load_reference(str(state["extractor"]))
        self.update_features(state["rows"])

    def update_features(self, feats: Any) -> None:
        """Add already-extracted embeddings [n, d] (used by `update`; handy for tests)."""
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"expected embeddings of shape [n, d], got {x.shape}")
        self._rows.append(unit_rows(x) if self.options.normalize else x)

    @property
    def count(self) -> int:
        return sum(len(r) for r in self._rows)

    def compute(self) -> dict[str, Value]:
        from audit.scorers.frechet import normal_interval

        stem = cmmd_stem(self.options.extractor)
        out: dict[str, Value] = {m.name: None for m in self.metrics()}
        y, kyy = self._ref_rows, self._ref_kyy
        if y is None or kyy is None or self.count < 2:
            return out  # no numbers from fewer than 2 images
        x = np.concatenate(self._rows)
        if x.shape[1] != y.shape[1]:
            raise ValueError(f"embeddings are {x.shape[1]}-d, the reference {y.shape[1]}-d")
        b = self.options.bootstrap
        rng = np.random.default_rng(self.options.seed)
        # Column 0: every image once (the point estimate); then the Poisson(1) replicates.
        weights = np.ones((len(x), 1 + b))
        if b:
            weights[:, 1:] = rng.poisson(1.0, size=(len(x), b))
        kxx, kxy = weighted_terms(x, y, weights)
        values = SCALE * (kxx + kyy - 2.0 * kxy)
        point = float(values[0])
        out[stem] = point
        reps = values[1:][weights[:, 1:].sum(axis=0) >= 2]
        if reps.size >= 2:
            low, high = normal_interval(point, reps, self.options.ci_level)
            if not math.isnan(low):
                out[f"{stem}_ci_low"], out[f"{stem}_ci_high"] = low, high
        return out
