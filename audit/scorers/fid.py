"""Frechet distance (FID, or FD in another feature space), KID and optionally IS, per group.

The generated images of one group (a sweep cell) stream through the extractor into running
sums (mean / covariance), a bounded reservoir (KID) and Poisson-bootstrap replicate sums
(the interval); memory does not grow with the number of images. The reference side is a
statistic built by `audit.scorers.reference.build_reference` with the same extractor and
resize mode, which `load_reference` enforces.

The metric name carries the extractor: ``fid`` for Inception, ``fd_clip`` for CLIP,
``fd_<kind>`` for a custom extractor (KID likewise: ``kid_mean`` / ``kid_<kind>_mean``).
The interval covers the sampling of the generated images only: the reference is fixed.

Cost: the reference is factored once per scorer (`FrechetReference`: a Cholesky factor, or
a symmetric square root when it is singular) and its KID kernel computed once; each group
then needs one symmetric eigenproblem for the point estimate and one per bootstrap
replicate (about 1 s each at d = 2048 on 2 CPU cores against 10-50 s for scipy's sqrtm:
`t2i-audit bench fid`), run on the GPU when the scorer's device is CUDA.

Parallel scoring (`SetScorer.partial` / `merge`): a worker extracts a chunk's features and
their sums; the driver adds the sums and feeds the chunk's rows, in chunk order, to the
bootstrap, the reservoir and the IS splits (each draws from one seeded stream image by
image). `update` is `merge(partial(...))`, so one process and N give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from audit.environment import pick_device
from audit.scorers.base import (
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    SetScorer,
    Value,
)
from audit.scorers.features import (
    ExtractorSpec,
    ResizeMode,
    extractor_loads,
)


class FidOptions(ScorerOptions):
    # What these point at is named by digest in `FidScorer.loads()`: moving files changes
    # no number.
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {
        "weights",
        "reference_root",
    }

    reference: str  # name under <reference_root>/references/, or a folder path
    reference_root: Path = Path("reports")
    extractor: str = "inception"  # inception | clip | a registered custom kind
    weights: Path | None = None
    resize: ResizeMode = "clean"
    clip_model: str = "ViT-L-14"
    clip_pretrained: str = "openai"
    kid_subsets: int = Field(default=100, ge=1)
    kid_subset_size: int = Field(default=1000, ge=2)
    kid_reservoir: int = Field(default=4000, ge=2)  # feature rows kept for KID
    inception_score: bool = False
    is_splits: int = Field(default=10, ge=1)
    # Poisson-bootstrap replicates (0 = no CI); each costs one d x d symmetric eigenproblem
    # at compute time (~1 s at d = 2048 on 2 CPU cores, milliseconds on a GPU).
    bootstrap: int = Field(default=10, ge=0)
    bootstrap_memory_mb: int = Field(default=512, ge=0)  # cap on replicate sums' memory
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    # eigh: Tr sqrt(C_r C) from a symmetric eigenproblem with the reference factored once
    # (`FrechetReference`, >10x faster per group); sqrtm: scipy.linalg.sqrtm per group, as
    # pytorch-fid. Both give the same value (tests: relative difference < 1e-9 at d = 2048).
    fd_method: Literal["eigh", "sqrtm"] = "eigh"
    batch_size: int = Field(default=32, ge=1)
    device: str | None = None
    seed: int = 0
    extractor_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _is_needs_inception(self) -> FidOptions:
        if self.inception_score and self.extractor != "inception":
            raise ValueError("inception_score needs extractor: inception")
        return self


def metric_stem(extractor: str) -> str:
    """fid / fd_clip / fd_<kind>: the Frechet metric's name for an extractor kind."""
    return "fid" if extractor == "inception" else f"fd_{extractor}"


def kid_stem(extractor: str) -> str:
    return "kid" if extractor == "inception" else f"kid_{extractor}"


class FidScorer(SetScorer[FidOptions]):
    name = "fid"
    version = "1"
    mergeable = True  # features in workers, sums merged in the driver (`partial`, `merge`)
    offline = False  # weights are not shipped: a cache or a `weights` path is needed

    def __init__(self, options: FidOptions | None = None) -> None:
        super().__init__(options)
        self._extractor: Any = None
        self._reference: Any = None
        self._ref_frechet: Any = None  # FrechetReference, built once per reference
        self._ref_kernel: Any = None
        self._dim: int | None = None  # feature dimension, once known
        self.reset()

    # ------------------------------------------------------------ declarations

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        if not isinstance(options, FidOptions):
            return [
                Requirement(
                    "option 'reference' (reference statistics to compare against)",
                    ok=False,
                    fix="add `reference: NAME` under the fid scorer's options",
                )
            ]
        from audit.scorers.features import extractor_requirements
        from audit.scorers.reference import reference_requirement

        reqs = extractor_requirements(cls(options).extractor_spec())
        reqs.append(reference_requirement(options.reference, options.reference_root))
        return reqs

    def metrics(self) -> list[Metric]:
        fd, kd = metric_stem(self.options.extractor), kid_stem(self.options.extractor)
        level = f"{self.options.ci_level:.0%}"
        out = [
            Metric(fd, "lower", description=f"Frechet distance to the reference ({self._what})"),
            Metric(f"{fd}_ci_low", "none", description=f"{level} Poisson-bootstrap bound"),
            Metric(f"{fd}_ci_high", "none", description=f"{level} Poisson-bootstrap bound"),
            Metric(f"{kd}_mean", "lower", description="KID: unbiased MMD^2, cubic kernel"),
            Metric(f"{kd}_std", "none", description="KID spread over subsets"),
        ]
        if self.options.inception_score:
            out += [
                Metric("is_mean", "higher", description="Inception Score"),
                Metric("is_std", "none", description="Inception Score spread over splits"),
            ]
        return out

    @property
    def _what(self) -> str:
        o = self.options
        if o.extractor == "clip":
            ext = f"clip:{o.clip_model}/{o.clip_pretrained}"
        elif o.extractor == "inception":
            ext = "inception-v3-torchfidelity"
        else:
            ext = o.extractor
        return f"extractor {ext}, resize {o.resize}, reference {o.reference}"

    def label(self) -> str:
        return f"{self.name}/{self.version}: {self._what}"

    # ------------------------------------------------------------ lazy set-up

    def extractor_spec(self) -> ExtractorSpec:
        o = self.options
        return ExtractorSpec(
            kind=o.extractor,
            resize=o.resize,
            weights=str(o.weights) if o.weights else None,
            model=o.clip_model,
            pretrained=o.clip_pretrained,
            device=o.device,
            batch_size=o.batch_size,
            options=dict(o.extractor_options),
        )

    def loads(self) -> dict[str, str]:
        """The extractor's weights and the reference statistics' digest (no model loaded)."""
        from audit.scorers.reference import reference_digest

        o = self.options
        return {
            **extractor_loads(self.extractor_spec()),
            "reference": reference_digest(o.reference, o.reference_root),
        }

    def _setup(self) -> None:
        """Load the reference (identity checked early where it is known) and the network."""
        if self._extractor is not None:
            return
        from audit.scorers.features import expected_name, make_extractor

        spec = self.extractor_spec()
        self._load_reference(expected_name(spec))  # None: a custom kind, resize checked now
        extractor = make_extractor(spec)
        self._load_reference(extractor.name)  # custom kind: its identity is known only now
        self._extractor = extractor
        if self._dim != extractor.dim:  # not sized yet (merged states may have sized it)
            self._dim = extractor.dim
            self.reset()

    def _load_reference(self, extractor: str | None) -> None:
        """The reference statistics, which must have been built with `extractor` (by name;
        None: any) and this resize mode. The driver of a parallel run loads only these."""
        from audit.scorers.reference import load_reference

        if self._reference is not None and self._reference.extractor == extractor:
            return
        self._reference = load_reference(
            self.options.reference,
            self.options.reference_root,
            extractor=extractor,
            resize=self.options.resize,
        )
        self._ref_frechet = self._ref_kernel = None

    # ------------------------------------------------------------ streaming

    def reset(self) -> None:
        from audit.scorers.frechet import (
            GaussianStats,
            InceptionScoreStats,
            PoissonBootstrap,
            Reservoir,
        )

        self._stats: GaussianStats | None = None
        self._boot: PoissonBootstrap | None = None
        self._reservoir: Reservoir | None = None
        self._is: InceptionScoreStats | None = None
        if self._dim is None:  # sized by the extractor, or by the first merged state
            return
        o, dim = self.options, self._dim
        self._stats = GaussianStats(dim)
        replicates = PoissonBootstrap.replicates_within(
            dim, o.bootstrap, o.bootstrap_memory_mb * 2**20
        )
        self._boot = PoissonBootstrap(dim, replicates, seed=o.seed)
        self._reservoir = Reservoir(dim, o.kid_reservoir, seed=o.seed)
        if o.inception_score:
            self._is = InceptionScoreStats(1008, o.is_splits)

    def update(self, items: Sequence[ScoreItem]) -> None:
        self.merge(self.partial(items))

    def partial(self, items: Sequence[ScoreItem]) -> dict[str, Any]:
        """The chunk's features through the network (the costly part) and their sums.

        The feature rows (and Inception logits) ride along: the bootstrap weights, the KID
        reservoir and the IS splits draw from one seeded stream image by image, so `merge`
        applies them in chunk order, exactly as one process does."""
        self._setup()
        images = [it.image() for it in items]
        logits = None
        if self.options.inception_score:
            feats, logits = self._extractor.features_and_logits(images)
        else:
            feats = self._extractor(images)
        return self._state(feats, logits)

    def _state(self, feats: Any, logits: Any = None) -> dict[str, Any]:
        from audit.scorers.frechet import GaussianStats

        n, total, outer = GaussianStats.sums(feats, self._extractor.dim)
        return {
            "extractor": self._extractor.name,
            "dim": self._extractor.dim,
            "n": n,
            "sum": total,
            "outer": outer,
            "features": feats,
            "logits": logits,
        }

    def merge(self, state: dict[str, Any]) -> None:
        """Add a chunk's sums; feed its rows to the bootstrap, reservoir and IS in order."""
        self._load_reference(state["extractor"])
        if self._dim is None:
            self._dim = int(state["dim"])
            self.reset()
        assert self._stats is not None and self._boot is not None and self._reservoir is not None
        self._stats.add(state["n"], state["sum"], state["outer"])
        self._boot.update(state["features"])
        self._reservoir.update(state["features"])
        if self._is is not None:
            self._is.update(state["logits"])

    def update_features(self, feats: Any) -> None:
        """Add already-extracted features (handy for tests and benchmarks)."""
        self._setup()
        self.merge(self._state(feats))

    def _reference_frechet(self) -> Any:
        """The reference Gaussian factored once per scorer (the costly part), shared by
        every group and bootstrap replicate."""
        if self._ref_frechet is None:
            from audit.scorers.frechet_reference import FrechetReference

            stats = self._reference.stats
            self._ref_frechet = FrechetReference(
                stats.mean(), stats.cov(), device=self._linalg_device
            )
        return self._ref_frechet

    @property
    def _linalg_device(self) -> str:
        """Dense linear algebra runs where the network runs (CUDA), else with NumPy."""
        return pick_device(self.options.device)

    def _reference_kernel(self) -> Any:
        """KID kernel of the reference sample, computed once per scorer when it is small
        enough to keep (<= 256 MiB); else None and `kid` works per subset."""
        if self._ref_kernel is None:
            from audit.scorers.frechet import poly_kernel

            sample = self._reference.reservoir
            if 8 * sample.shape[0] ** 2 <= 256 * 2**20:
                self._ref_kernel = poly_kernel(sample, sample)
        return self._ref_kernel

    def compute(self) -> dict[str, Value]:
        from audit.scorers.frechet import frechet_distance, kid, normal_interval

        fd, kd = metric_stem(self.options.extractor), kid_stem(self.options.extractor)
        out: dict[str, Value] = {m.name: None for m in self.metrics()}
        stats, ref = self._stats, self._reference
        if stats is None or ref is None or stats.n < 2:
            return out  # no numbers from fewer than 2 images
        mu, cov = stats.mean(), stats.cov()
        if self.options.fd_method == "sqrtm":
            point = frechet_distance(mu, cov, ref.stats.mean(), ref.stats.cov())
        else:
            point = self._reference_frechet().distance(mu, cov)
        out[fd] = point
        assert self._boot is not None and self._reservoir is not None
        if self._boot.replicates >= 2:
            reps = self._boot.frechet_replicates(self._reference_frechet())
            low, high = normal_interval(point, reps, self.options.ci_level)
            if not math.isnan(low):
                out[f"{fd}_ci_low"], out[f"{fd}_ci_high"] = low, high
        fake = self._reservoir.sample()
        if fake.shape[0] >= 2 and ref.reservoir.shape[0] >= 2:
            k = kid(
                ref.reservoir,
                fake,
                subsets=self.options.kid_subsets,
                subset_size=self.options.kid_subset_size,
                seed=self.options.seed,
                real_kernel=self._reference_kernel(),
            )
            out[f"{kd}_mean"], out[f"{kd}_std"] = k.mean, k.std
        if self._is is not None and (self._is.count >= 1).all():
            out["is_mean"], out["is_std"] = self._is.compute()
        return out
