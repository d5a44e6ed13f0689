"""Per-cell Frechet distance: the reference factored once (`FrechetReference`) against scipy's
sqrtm (pytorch-fid's recipe, `frechet_distance`), side by side on the same covariances.

A sweep scores many cells against one reference, so the factorisation of the reference is
paid once and reported apart; each round then times one cell both ways, alternating which
goes first, and the ratio is the median over rounds of scipy's seconds over ours (the
per-cell speed-up). Both sides run with this process's default thread settings, as a user
would get them; ours takes its eigenvalues on one thread (see frechet_reference.py).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class FidSpeedBench:
    dim: int
    images: int  # feature rows behind each covariance
    setup_seconds: float  # factoring the reference, once per sweep
    ours_seconds: list[float]  # one per cell
    scipy_seconds: list[float]
    max_rel_diff: float  # between the two distances, over the cells
    method: str  # how the reference was factored

    @property
    def round_ratios(self) -> list[float]:
        return [s / o for s, o in zip(self.scipy_seconds, self.ours_seconds, strict=True)]

    @property
    def ratio(self) -> float:
        """scipy seconds / ours per cell: the speed-up (higher is better)."""
        return statistics.median(self.round_ratios)


def gaussian(dim: int, images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of `images` random features with uneven spreads (full rank when
    images > dim), as a cell or a reference of that size would give."""
    rng = np.random.default_rng(seed)
    spread = np.linspace(0.3 + 0.1 * (seed % 3), 1.5 + 0.2 * (seed % 2), dim)
    x = rng.standard_normal((images, dim)) * spread + 0.02 * seed
    return x.mean(0), np.cov(x, rowvar=False)


def bench_fid_speed(dim: int = 2048, cells: int = 2, *, images: int | None = None) -> FidSpeedBench:
    from audit.scorers.frechet import frechet_distance
    from audit.scorers.frechet_reference import FrechetReference

    n = images or dim + dim // 4
    mu_r, cov_r = gaussian(dim, n, seed=0)
    start = time.perf_counter()
    reference = FrechetReference(mu_r, cov_r)
    setup = time.perf_counter() - start
    ours, theirs, diffs = [], [], []
    for cell in range(cells):
        mu, cov = gaussian(dim, n, seed=cell + 1)
        values = {}
        sides = ("ours", "scipy") if cell % 2 == 0 else ("scipy", "ours")
        for side in sides:
            start = time.perf_counter()
            if side == "ours":
                values[side] = reference.distance(mu, cov)
                ours.append(time.perf_counter() - start)
            else:
                values[side] = frechet_distance(mu, cov, mu_r, cov_r)
                theirs.append(time.perf_counter() - start)
        diffs.append(abs(values["ours"] - values["scipy"]) / abs(values["scipy"]))
    return FidSpeedBench(dim, n, setup, ours, theirs, max(diffs), reference.method)
