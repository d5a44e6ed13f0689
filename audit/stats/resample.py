"""Interval primitives shared by aggregation and the gate.

The bootstrap here is scipy.stats.bootstrap's percentile method, computed faster: it draws
the resample indices exactly as scipy does for `rng=np.random.default_rng(seed)` (one
(n_resamples, n) block of `integers(0, n)`), but turns each row of indices into counts and
takes all resample means of all columns with one matrix product, instead of gathering a
(columns, n_resamples, n) array. Same seed, same numbers as scipy (tests check this to
1e-9); about 10x faster, and memory stays bounded by drawing the block in chunks (numpy's
stream does not depend on the chunking).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

CHUNK_ELEMENTS = 2_000_000  # index draws per chunk: bounds memory at ~50 MB
CACHE_ELEMENTS = 1_000_000  # count matrices up to 8 MB are kept (4 of them at most)


def bootstrap_means(x: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of `n_resamples` bootstrap resamples of the rows of `x` (n, m) -> (n_resamples, m).

    Rows are resampled jointly, so columns keep their pairing (paired data, several metrics
    measured on the same images).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample")
    if n * n_resamples <= CACHE_ELEMENTS:
        return _cached_counts(n, n_resamples, seed) @ x / n
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, x.shape[1]))
    rows = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        out[start : start + b] = _counts(rng, n, b) @ x / n
    return out


def _counts(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """(rows, n) resample counts from `rows` draws of n indices each (scipy's draw order)."""
    idx = rng.integers(0, n, (rows, n))
    flat = (idx + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


@functools.lru_cache(maxsize=4)
def _cached_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    # Small samples recur (the gate re-runs the same pair count for every metric):
    # drawing the counts once makes each further bootstrap one matrix product.
    counts = _counts(np.random.default_rng(seed), n, n_resamples)
    counts.setflags(write=False)
    return counts


def percentile_interval(
    distribution: np.ndarray, confidence: float, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval of a bootstrap distribution (numpy 'linear' quantiles,
    as scipy.stats.quantile uses)."""
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(distribution, [tail, 1.0 - tail], axis=axis)
    return low, high


def t_interval(
    mean: np.ndarray, sd: np.ndarray, n: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval for a mean: the cheap interval used for very large samples, where
    the percentile bootstrap of a mean agrees with it to within its own Monte Carlo error."""
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2.0, n - 1) * np.asarray(sd) / np.sqrt(n)
    return np.asarray(mean) - half, np.asarray(mean) + half


def clopper_pearson(
    successes: np.ndarray, trials: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval for a proportion, vectorised; equals
    scipy.stats.binomtest(k, n).proportion_ci(confidence, method='exact')."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    tail = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(tail, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1.0 - tail, k + 1, n - k), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)
