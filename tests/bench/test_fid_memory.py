"""The FID scorer's streaming state does not grow with the number of images."""

from __future__ import annotations

from audit.bench.fid_memory import bench_fid_memory, fid_state, state_bytes
from audit.scorers.fid import FidOptions


def test_state_at_10k_images_within_10_percent_of_1k() -> None:
    b = bench_fid_memory((1_000, 10_000), dim=32, kid_reservoir=500, bootstrap=4)
    lo, hi = b.points
    assert (lo.images, hi.images) == (1_000, 10_000)
    state, peak = b.growth()
    assert state <= 1.10 and peak <= 1.10
    assert lo.peak_bytes >= lo.state_bytes  # the traced peak holds the state itself
    # The state's size from first principles: float64 sum and outer product, per replicate
    # a weight, a sum and an outer product, and a float32 reservoir of feature rows.
    d, r, k = 32, 4, 500
    assert hi.state_bytes == 8 * (d + d * d) + 8 * r * (1 + d + d * d) + 4 * k * d


def test_state_uses_the_fid_scorer_defaults() -> None:
    opts = FidOptions(reference="x")
    stats, boot, reservoir = fid_state(64)
    assert boot.replicates == opts.bootstrap and reservoir.capacity == opts.kid_reservoir
    # At Inception's 2048 dimensions the replicates are capped by bootstrap_memory_mb.
    full = fid_state(2048)
    assert full[1].nbytes <= opts.bootstrap_memory_mb * 2**20
    assert state_bytes(full) == sum(p.nbytes for p in full)
