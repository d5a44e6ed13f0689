"""Pure maths for set-level scores: streaming statistics, Frechet distance, KID, IS.

Everything here works on float64 NumPy arrays and keeps state whose size depends on the
feature dimension and on fixed capacities, never on how many images went in:

* `GaussianStats`  — count, sum and sum of outer products (as torchmetrics' FID keeps);
  chunks' sums add up (`sums`, `add`), which is how parallel scoring merges them.
* `PoissonBootstrap` — B replicate weighted copies of those sums; each image gets an
  independent Poisson(1) weight per replicate (the streaming "Poisson bootstrap"), so a
  bootstrap interval needs no stored features. Memory: B * (d*d + d + 1) float64.
* `Reservoir`      — a uniform random sample of at most `capacity` feature rows (Vitter's
  algorithm R), which is what KID is computed on once a set outgrows it.
* `InceptionScoreStats` — per-split sums that give torch-fidelity's Inception Score exactly.

Frechet distances against one fixed reference (every cell of a sweep, every bootstrap
replicate) go through `FrechetReference` (frechet_reference.py), which factors the reference
once; `frechet_distance` is pytorch-fid's recipe through scipy's sqrtm, kept as the check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audit.scorers.frechet_reference import FrechetReference

FloatArray = np.ndarray


def _as_rows(features: np.ndarray, dim: int) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected features of shape [n, {dim}], got {x.shape}")
    return x


class GaussianStats:
    """Streaming mean and covariance: n, sum(x), sum(x x^T) in float64."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.n = 0
        self.total = np.zeros(dim, dtype=np.float64)
        self.outer = np.zeros((dim, dim), dtype=np.float64)

    def update(self, features: np.ndarray) -> None:
        self.add(*self.sums(features, self.dim))

    @staticmethod
    def sums(features: np.ndarray, dim: int) -> tuple[int, FloatArray, FloatArray]:
        """(n, sum(x), sum(x x^T)) of a chunk: what `add` folds in (a partial state)."""
        x = _as_rows(features, dim)
        return x.shape[0], x.sum(axis=0), x.T @ x

    def add(self, n: int, total: np.ndarray, outer: np.ndarray) -> None:
        """Merge another chunk's sums; adding chunk by chunk is exactly what `update` does."""
        self.n += int(n)
        self.total += total
        self.outer += outer

    def mean(self) -> FloatArray:
        if self.n < 1:
            raise ValueError("no features yet")
        return self.total / self.n

    def cov(self) -> FloatArray:
        """Unbiased covariance (divides by n - 1), as numpy.cov and torchmetrics."""
        if self.n < 2:
            raise ValueError("a covariance needs at least 2 features")
        mu = self.mean()
        return (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)

    @property
    def nbytes(self) -> int:
        return int(self.total.nbytes + self.outer.nbytes)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {
            f"{prefix}n": np.asarray(self.n, dtype=np.int64),
            f"{prefix}sum": self.total,
            f"{prefix}outer": self.outer,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> GaussianStats:
        total = np.asarray(arrays[f"{prefix}sum"], dtype=np.float64)
        stats = cls(total.shape[0])
        stats.n = int(arrays[f"{prefix}n"])
        stats.total = total.copy()
        stats.outer = np.asarray(arrays[f"{prefix}outer"], dtype=np.float64).copy()
        return stats


def frechet_distance(
    mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray, *, eps: float = 1e-6
) -> float:
    """||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 sqrtm(cov1 cov2)), float64, via scipy's sqrtm.

    As in pytorch-fid / clean-fid: a non-finite square root (singular product, e.g. fewer
    images than dimensions) is retried with `eps` added to both diagonals; tiny imaginary
    parts from rounding are dropped. If the imaginary part is not tiny the symmetric form
    `trace_sqrt_product` (same quantity, computed from eigenvalues) is used instead.
    """
    import scipy.linalg

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    tr_covmean: float
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.abs(covmean.real).max()))
        if np.abs(covmean.imag).max() > 1e-3 * scale or not np.isfinite(covmean).all():
            tr_covmean = trace_sqrt_product(cov1, cov2)
        else:
            tr_covmean = float(np.trace(covmean.real))
    else:
        tr_covmean = float(np.trace(covmean))
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_covmean)


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray, *, device: str | None = None) -> float:
    """Tr(sqrtm(cov1 cov2)) from symmetric eigenvalue problems (`FrechetReference`): the
    same value as through scipy's sqrtm, and finite when the covariances are singular."""
    return FrechetReference(np.zeros(len(cov1)), cov1, device=device).trace_sqrt(cov2)


class PoissonBootstrap:
    """B weighted replicates of `GaussianStats`: each image weighs Poisson(1) in each replicate.

    Weights are drawn image by image (an [m, B] block per update) from one seeded generator,
    so results do not depend on how the images were split into batches.
    """

    def __init__(self, dim: int, replicates: int, seed: int = 0) -> None:
        self.dim = dim
        self.replicates = replicates
        self.weight = np.zeros(replicates, dtype=np.float64)
        self.total = np.zeros((replicates, dim), dtype=np.float64)
        self.outer = np.zeros((replicates, dim, dim), dtype=np.float64)
        self._rng = np.random.default_rng(seed)

    @staticmethod
    def replicates_within(dim: int, requested: int, memory_bytes: int) -> int:
        """The most replicates (<= requested) whose sums fit in `memory_bytes`."""
        per = 8 * (dim * dim + dim + 1)
        return max(0, min(requested, memory_bytes // per))

    def update(self, features: np.ndarray) -> None:
        x = _as_rows(features, self.dim)
        if self.replicates == 0:
            return
        w = self._rng.poisson(1.0, size=(x.shape[0], self.replicates)).astype(np.float64)
        self.weight += w.sum(axis=0)
        self.total += w.T @ x
        for b in range(self.replicates):
            self.outer[b] += (x * w[:, b : b + 1]).T @ x

    def mean_cov(self, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Replicate b's weighted mean and covariance; None if it drew under 2 images."""
        n = self.weight[b]
        if n < 2:
            return None
        mu = self.total[b] / n
        cov = (self.outer[b] - n * np.outer(mu, mu)) / (n - 1)
        return mu, cov

    def frechet_replicates(self, reference: FrechetReference) -> np.ndarray:
        """Frechet distance of each replicate to a fixed reference Gaussian, factored once.
        Each replicate costs one symmetric eigenvalue problem of size d (about 1 s at
        d = 2048 on 2 CPU cores; milliseconds with a CUDA reference)."""
        out = []
        for b in range(self.replicates):
            mc = self.mean_cov(b)
            if mc is not None:
                out.append(reference.distance(*mc))
        return np.asarray(out, dtype=np.float64)

    @property
    def nbytes(self) -> int:
        return int(self.weight.nbytes + self.total.nbytes + self.outer.nbytes)


def normal_interval(
    point: float, replicates: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """point -/+ z * bootstrap standard error.

    Centred on the point estimate on purpose: a resampled set holds duplicate images, which
    adds an upward bias to each replicate's Frechet distance, so percentiles of the
    replicates would be shifted up; their spread is still a fair standard error.
    """
    from statistics import NormalDist

    if replicates.size < 2:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    se = float(np.std(replicates, ddof=1))
    return (point - z * se, point + z * se)


class Reservoir:
    """Uniform sample of at most `capacity` rows of a stream (algorithm R, seeded).

    Rows are stored as float32: features come from float32 networks, so this loses nothing
    for them while halving memory; kernels are computed in float64.
    """

    def __init__(self, dim: int, capacity: int, seed: int = 0) -> None:
        self.dim = dim
        self.capacity = capacity
        self.seen = 0
        self.rows = np.zeros((capacity, dim), dtype=np.float32)
        self._rng = np.random.default_rng(seed)

    def update(self, features: np.ndarray) -> None:
        x = _as_rows(features, self.dim)
        for row in x:
            if self.seen < self.capacity:
                self.rows[self.seen] = row
            else:
                j = int(self._rng.integers(0, self.seen + 1))
                if j < self.capacity:
                    self.rows[j] = row
            self.seen += 1

    def sample(self) -> np.ndarray:
        return self.rows[: min(self.seen, self.capacity)].astype(np.float64)

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {
            f"{prefix}reservoir": self.rows[: min(self.seen, self.capacity)],
            f"{prefix}reservoir_seen": np.asarray(self.seen, dtype=np.int64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], capacity: int, prefix: str = "", seed: int = 0
    ) -> Reservoir:
        rows = np.asarray(arrays[f"{prefix}reservoir"], dtype=np.float32)
        res = cls(rows.shape[1], max(capacity, rows.shape[0]), seed)
        res.rows[: rows.shape[0]] = rows
        res.seen = int(arrays[f"{prefix}reservoir_seen"])
        return res


def poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3, the KID kernel."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two equal-size samples with the cubic polynomial kernel."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError("KID needs two samples of the same size, at least 2")
    kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
    off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(off - 2.0 * kxy.sum() / (m * m))


@dataclass(frozen=True)
class KidResult:
    mean: float
    std: float
    subset_size: int
    subsets: int


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    real_kernel: np.ndarray | None = None,
    memory_bytes: int = 512 * 2**20,
) -> KidResult:
    """KID as torchmetrics computes it: mean and (population) std of unbiased MMD^2 over
    `subsets` random subsets drawn without replacement; `subset_size` is capped at the
    smaller sample (torchmetrics raises instead), which the result records.

    When the three kernel matrices of the whole samples fit in `memory_bytes` they are
    computed once and each subset indexes into them (the same numbers, ~subsets/3 times
    fewer flops); `real_kernel` = poly_kernel(real, real) may be passed in to reuse it
    across groups scored against one reference.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    nr, nf = real.shape[0], fake.shape[0]
    m = min(subset_size, nr, nf)
    if m < 2:
        raise ValueError("KID needs at least 2 features in each set")
    rng = np.random.default_rng(seed)
    scores = np.empty(subsets, dtype=np.float64)
    whole = 8 * (nr * nr + nf * nf + nr * nf) <= memory_bytes
    if whole:
        krr = poly_kernel(real, real) if real_kernel is None else real_kernel
        kff, krf = poly_kernel(fake, fake), poly_kernel(real, fake)
    for i in range(subsets):
        ir = rng.permutation(nr)[:m]
        jf = rng.permutation(nf)[:m]
        if not whole:
            scores[i] = mmd2_unbiased(real[ir], fake[jf])
            continue
        kxx, kyy = krr[np.ix_(ir, ir)], kff[np.ix_(jf, jf)]
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        scores[i] = off - 2.0 * krf[np.ix_(ir, jf)].sum() / (m * m)
    return KidResult(float(scores.mean()), float(scores.std()), m, subsets)


class InceptionScoreStats:
    """Streaming Inception Score with the same formula as torch-fidelity.

    Image i goes to split i % splits (torch-fidelity shuffles, then cuts contiguous chunks;
    both are splits of equal-probability membership). Per split we keep sum p(y|x),
    sum_x sum_y p log p and a count, which gives each split's mean KL exactly:
    mean_x KL(p(y|x) || p(y)) = mean_x sum p log p - sum_y p(y) log p(y).
    """

    def __init__(self, classes: int, splits: int = 10) -> None:
        self.splits = splits
        self.count = np.zeros(splits, dtype=np.int64)
        self.p_sum = np.zeros((splits, classes), dtype=np.float64)
        self.plogp_sum = np.zeros(splits, dtype=np.float64)
        self._seen = 0

    def update(self, logits: np.ndarray) -> None:
        z = np.asarray(logits, dtype=np.float64)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(log_p)
        split = (self._seen + np.arange(z.shape[0])) % self.splits
        self._seen += z.shape[0]
        np.add.at(self.count, split, 1)
        np.add.at(self.p_sum, split, p)
        np.add.at(self.plogp_sum, split, (p * log_p).sum(axis=1))

    def compute(self) -> tuple[float, float]:
        if (self.count < 1).any():
            raise ValueError(f"Inception Score needs at least {self.splits} images")
        scores = []
        for s in range(self.splits):
            q = self.p_sum[s] / self.count[s]
            q = q[q > 0]  # 0 log 0 = 0
            kl = self.plogp_sum[s] / self.count[s] - float((q * np.log(q)).sum())
            scores.append(math.exp(kl))
        return float(np.mean(scores)), float(np.std(scores))
