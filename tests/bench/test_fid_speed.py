"""The per-cell Frechet benchmark: both sides compute the same distance on the same inputs.
(Speed is what the benchmark prints, side by side; it is not asserted here.)"""

from __future__ import annotations

import numpy as np
import pytest

from audit.bench.fid_speed import bench_fid_speed, gaussian


def test_both_sides_time_every_cell_and_agree() -> None:
    b = bench_fid_speed(32, cells=3)
    assert (b.dim, b.images, b.method) == (32, 40, "cholesky")
    assert len(b.ours_seconds) == len(b.scipy_seconds) == len(b.round_ratios) == 3
    assert b.max_rel_diff < 1e-9
    assert b.ratio == pytest.approx(float(np.median(b.round_ratios)))


def test_cells_are_full_rank_gaussians_unlike_the_reference() -> None:
    mu0, cov0 = gaussian(16, 40, seed=0)
    mu1, cov1 = gaussian(16, 40, seed=1)
    assert np.linalg.eigvalsh(cov1).min() > 0
    assert not np.allclose(mu0, mu1) and not np.allclose(cov0, cov1)
