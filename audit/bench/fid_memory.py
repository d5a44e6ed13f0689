"""Memory of the FID scorer's streaming state after 1k and after 10k images.

The state is what `FidScorer.reset` builds (same classes, same default sizes from
`FidOptions`): running sums for the mean and covariance, Poisson-bootstrap replicate sums
capped by `bootstrap_memory_mb`, and a bounded KID reservoir. It is fed random features
in batches; we record the state's own `nbytes` and the tracemalloc peak of the whole update
(state plus one batch of features and temporaries). Neither should grow with the images.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from typing import Any


@dataclass
class FidMemoryPoint:
    images: int
    state_bytes: int  # the state's arrays
    peak_bytes: int  # tracemalloc peak while building and updating the state
    seconds: float


@dataclass
class FidMemoryBench:
    dim: int
    replicates: int
    reservoir: int
    points: list[FidMemoryPoint]
    inception_state_bytes: int  # the same state at 2048-d (Inception), built but not fed

    def growth(self) -> tuple[float, float]:
        """(state bytes, tracemalloc peak) at the largest count over the smallest."""
        lo, hi = self.points[0], self.points[-1]
        return hi.state_bytes / lo.state_bytes, hi.peak_bytes / lo.peak_bytes


def fid_state(dim: int, **overrides: Any) -> list[Any]:
    """[GaussianStats, PoissonBootstrap, Reservoir] sized as FidScorer sizes them."""
    from audit.scorers.fid import FidOptions
    from audit.scorers.frechet import GaussianStats, PoissonBootstrap, Reservoir

    defaults = {k: f.default for k, f in FidOptions.model_fields.items() if k != "reference"}
    o = {**defaults, **overrides}
    replicates = PoissonBootstrap.replicates_within(
        dim, o["bootstrap"], o["bootstrap_memory_mb"] * 2**20
    )
    return [
        GaussianStats(dim),
        PoissonBootstrap(dim, replicates, seed=o["seed"]),
        Reservoir(dim, o["kid_reservoir"], seed=o["seed"]),
    ]


def state_bytes(parts: list[Any]) -> int:
    return sum(int(p.nbytes) for p in parts)


def measure(images: int, dim: int, *, batch: int = 250, seed: int = 0, **sizes: Any) -> Any:
    import numpy as np

    import audit.scorers.fid
    import audit.scorers.frechet  # noqa: F401  (imported before tracing: module objects are not state)

    rng = np.random.default_rng(seed)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        parts = fid_state(dim, **sizes)
        for i in range(0, images, batch):
            feats = rng.standard_normal((min(batch, images - i), dim))
            for p in parts:
                p.update(feats)
            del feats
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return FidMemoryPoint(images, state_bytes(parts), peak, seconds)


def bench_fid_memory(
    counts: tuple[int, ...] = (1_000, 10_000), *, dim: int = 512, **sizes: Any
) -> FidMemoryBench:
    """`dim` 512 keeps 10k updates quick on 2 cores (each image costs about
    (1 + replicates) * dim^2 multiply-adds); the 2048-d state's size is reported beside."""
    points = [measure(n, dim, **sizes) for n in counts]
    parts = fid_state(dim, **sizes)
    full = state_bytes(fid_state(2048, **sizes))
    return FidMemoryBench(dim, parts[1].replicates, parts[2].capacity, points, full)
