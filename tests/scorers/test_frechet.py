"""Frechet distance, KID, IS and the streaming state, against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from audit.scorers.frechet import (
    GaussianStats,
    InceptionScoreStats,
    PoissonBootstrap,
    Reservoir,
    frechet_distance,
    kid,
    mmd2_unbiased,
    normal_interval,
    trace_sqrt_product,
)
from audit.scorers.frechet_reference import FrechetReference

torch.set_num_threads(1)


def _reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    """FD written out from the definition with scipy in float64 (pytorch-fid's recipe)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _features(n: int, d: int, seed: int, shift: float = 0.0, law: int = 99) -> np.ndarray:
    """n draws from a correlated Gaussian fixed by `law` (same law -> same distribution)."""
    mix = np.random.default_rng(law).standard_normal((d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).standard_normal((n, d)) @ mix + shift


def _stats(x: np.ndarray, batch: int = 37) -> GaussianStats:
    s = GaussianStats(x.shape[1])
    for i in range(0, len(x), batch):
        s.update(x[i : i + batch])
    return s


def test_streaming_mean_cov_and_fd_match_scipy_reference() -> None:
    a, b = _features(400, 24, 0), _features(300, 24, 1, shift=0.3)
    sa, sb = _stats(a), _stats(b)
    np.testing.assert_allclose(sa.mean(), a.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sa.cov(), np.cov(a, rowvar=False), rtol=1e-9, atol=1e-12)
    ours = frechet_distance(sa.mean(), sa.cov(), sb.mean(), sb.cov())
    ref = _reference_fd(a, b)
    rel = abs(ours - ref) / ref
    print(f"FD ours={ours:.9f} scipy={ref:.9f} rel={rel:.2e}")
    assert rel < 1e-9
    assert frechet_distance(sa.mean(), sa.cov(), sa.mean(), sa.cov()) == pytest.approx(0, abs=1e-8)


def test_fd_matches_torchmetrics_with_custom_feature_module() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
    ).double()

    class Feature(torch.nn.Module):
        num_features = 32

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return net(x.double() / 255.0)

    feature = Feature()
    gen = torch.Generator().manual_seed(1)
    real = torch.randint(0, 256, (120, 3, 16, 16), dtype=torch.uint8, generator=gen)
    fake = torch.randint(0, 160, (90, 3, 16, 16), dtype=torch.uint8, generator=gen)

    metric = FrechetInceptionDistance(feature=feature)
    metric.set_dtype(torch.float64)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    theirs = float(metric.compute())

    with torch.no_grad():
        fr, ff = feature(real).numpy(), feature(fake).numpy()
    sr, sf = _stats(fr), _stats(ff)
    ours = frechet_distance(sf.mean(), sf.cov(), sr.mean(), sr.cov())
    rel = abs(ours - theirs) / theirs
    print(f"FD ours={ours!r} torchmetrics={theirs!r} rel={rel:.2e}")
    assert rel < 1e-3


def test_kid_matches_torchmetrics_and_definition() -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    class Feature(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1).double()[:, :12] / 255.0

    gen = torch.Generator().manual_seed(2)
    real = torch.randint(0, 256, (60, 3, 2, 2), dtype=torch.uint8, generator=gen)
    fake = torch.randint(30, 256, (60, 3, 2, 2), dtype=torch.uint8, generator=gen)
    # subset_size = n: every subset is the whole set, so both sides see the same samples.
    metric = KernelInceptionDistance(feature=Feature(), subsets=3, subset_size=60)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    theirs_mean, theirs_std = (float(v) for v in metric.compute())
    fr, ff = Feature()(real).numpy(), Feature()(fake).numpy()
    ours = kid(fr, ff, subsets=3, subset_size=1000)  # capped at n = 60
    assert ours.subset_size == 60
    rel = abs(ours.mean - theirs_mean) / abs(theirs_mean)
    print(f"KID ours={ours.mean:.8f} torchmetrics={theirs_mean:.8f} rel={rel:.2e}")
    assert rel < 1e-6
    assert ours.std == pytest.approx(theirs_std, abs=1e-12)

    # Unbiased MMD^2 written out pair by pair.
    x, y = fr[:7], ff[:7]
    d, m = x.shape[1], 7

    def k(u: np.ndarray, v: np.ndarray) -> float:
        return float((u @ v / d + 1) ** 3)

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_whole_kernel_path_equals_per_subset_path() -> None:
    a, b = _features(300, 8, 20), _features(250, 8, 21, shift=0.2)
    whole = kid(a, b, subsets=10, subset_size=100, seed=4)
    per_subset = kid(a, b, subsets=10, subset_size=100, seed=4, memory_bytes=0)
    reused = kid(a, b, subsets=10, subset_size=100, seed=4, real_kernel=(a @ a.T / 8 + 1) ** 3)
    assert whole.mean == pytest.approx(per_subset.mean, rel=1e-10)
    assert whole.std == pytest.approx(per_subset.std, rel=1e-8)
    assert reused.mean == pytest.approx(whole.mean, rel=1e-12)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift() -> None:
    a, b = _features(800, 16, 3), _features(800, 16, 4)
    same = kid(a, b, subsets=20, subset_size=200)
    shifted = kid(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 10 * max(same.std, 1e-4)


def test_symmetric_trace_equals_sqrtm_trace_and_singular_case_is_finite() -> None:
    a, b = _features(200, 20, 5), _features(200, 20, 6, shift=0.5)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = float(np.trace(scipy.linalg.sqrtm(s1 @ s2).real))
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-8)
    # Fewer images than dimensions: singular covariances still give a finite distance.
    small_a, small_b = a[:8, :], b[:8, :]
    sa, sb = _stats(small_a), _stats(small_b)
    fd = frechet_distance(sa.mean(), sa.cov(), sb.mean(), sb.cov())
    assert np.isfinite(fd) and fd > 0


# Recorded once with scipy 1.17.1 / numpy 2.4.6 (pytorch-fid's recipe, written out in
# `_reference_fd`: scipy.linalg.sqrtm(s1 @ s2), real part, took 26 s here) for the inputs of
# `_wide(20, 0.5, 1.5, 0.0)` and `_wide(21, 0.4, 1.7, 0.05)`; its imaginary part was 0.
SCIPY_FD_2048 = 817.2302415719341


def _wide(seed: int, lo: float, hi: float, shift: float, n: int = 2560) -> np.ndarray:
    """n x 2048 features with per-dimension spreads from lo to hi (full-rank covariance)."""
    z = np.random.default_rng(seed).standard_normal((n, 2048))
    return z * np.linspace(lo, hi, 2048) + shift


def test_factored_reference_matches_scipy_sqrtm_at_2048() -> None:
    a, b = _wide(20, 0.5, 1.5, 0.0), _wide(21, 0.4, 1.7, 0.05)
    reference = FrechetReference(a.mean(0), np.cov(a, rowvar=False))
    assert reference.method == "cholesky"
    ours = reference.distance(b.mean(0), np.cov(b, rowvar=False))
    rel = abs(ours - SCIPY_FD_2048) / SCIPY_FD_2048
    print(f"FD d=2048 ours={ours!r} scipy sqrtm (recorded)={SCIPY_FD_2048!r} rel={rel:.1e}")
    assert rel < 1e-6


def test_factored_reference_matches_scipy_when_singular_or_ill_conditioned() -> None:
    d = 40
    cell = _features(300, d, 30, shift=0.2, law=31)
    cases = {
        "full rank": _features(500, d, 32, law=33),
        # Spreads over 8 decades: the Cholesky route must not lose digits to conditioning.
        "ill-conditioned": _features(500, d, 34, law=35) * np.logspace(-4, 0, d),
        "fewer images than dimensions": _features(25, d, 36, law=37),
    }
    methods = {}
    for name, ref in cases.items():
        reference = FrechetReference(ref.mean(0), np.cov(ref, rowvar=False))
        methods[name] = reference.method
        for other in (cell, cell[:12]):  # a full-rank cell and a singular one
            s1, s2 = np.cov(ref, rowvar=False), np.cov(other, rowvar=False)
            expected = float(np.trace(scipy.linalg.sqrtm(s1 @ s2).real))
            got = reference.trace_sqrt(s2)
            assert got == pytest.approx(expected, rel=1e-7), name
            if len(other) > d:  # scipy's sqrtm is exact only off the singular case
                fd = reference.distance(other.mean(0), s2)
                assert fd == pytest.approx(_reference_fd(other, ref), rel=1e-8), name
    assert methods["full rank"] == methods["ill-conditioned"] == "cholesky"
    assert methods["fewer images than dimensions"] == "symmetric-sqrt"


def test_eigenvalues_run_on_one_thread_and_restore_the_count() -> None:
    torch.set_num_threads(2)
    try:
        x = _features(100, 8, 40)
        FrechetReference(x.mean(0), np.cov(x, rowvar=False)).trace_sqrt(np.eye(8))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_state_memory_is_flat_in_image_count() -> None:
    d = 16

    def state_bytes(n: int) -> int:
        stats, boot, res = GaussianStats(d), PoissonBootstrap(d, 5), Reservoir(d, 200)
        for i in range(0, n, 500):
            x = _features(500, d, i)
            stats.update(x)
            boot.update(x)
            res.update(x)
        return stats.nbytes + boot.nbytes + res.nbytes

    small, large = state_bytes(1_000), state_bytes(10_000)
    print(f"state bytes: 1k images {small}, 10k images {large}")
    assert small == large


def test_poisson_bootstrap_is_batch_invariant_and_tracks_sampling_spread() -> None:
    d = 4
    ref = _features(5000, d, 10, law=10)
    mu_r, cov_r = ref.mean(0), np.cov(ref, rowvar=False)
    x = _features(200, d, 11, shift=0.4, law=11)

    one, many = PoissonBootstrap(d, 50, seed=3), PoissonBootstrap(d, 50, seed=3)
    one.update(x)
    for i in range(0, 200, 7):
        many.update(x[i : i + 7])
    np.testing.assert_allclose(one.outer, many.outer, rtol=1e-12)
    reps = one.frechet_replicates(FrechetReference(mu_r, cov_r))
    se_boot = float(np.std(reps, ddof=1))

    # The real sampling spread of FD over independent sets of 200 from the same law.
    rng = np.random.default_rng(12)
    mix = np.random.default_rng(11).standard_normal((d, d)) / np.sqrt(d)
    draws = []
    for _ in range(200):
        y = rng.standard_normal((200, d)) @ mix + 0.4
        draws.append(frechet_distance(y.mean(0), np.cov(y, rowvar=False), mu_r, cov_r))
    se_true = float(np.std(draws, ddof=1))
    print(f"bootstrap SE {se_boot:.4f} vs sampling SD {se_true:.4f}")
    assert 0.6 < se_boot / se_true < 1.6
    sx = _stats(x)
    point = frechet_distance(sx.mean(), sx.cov(), mu_r, cov_r)
    low, high = normal_interval(point, reps)
    assert low < point < high


def test_bootstrap_replicates_fit_the_memory_budget() -> None:
    per = 8 * (2048 * 2048 + 2048 + 1)
    assert PoissonBootstrap.replicates_within(2048, 20, 512 * 2**20) == 15
    assert PoissonBootstrap.replicates_within(2048, 20, 512 * 2**20) * per <= 512 * 2**20
    assert PoissonBootstrap.replicates_within(768, 20, 512 * 2**20) == 20


def test_reservoir_keeps_all_then_a_uniform_sample() -> None:
    small = Reservoir(1, 100, seed=0)
    small.update(np.arange(60, dtype=float)[:, None])
    assert sorted(small.sample()[:, 0]) == list(range(60))

    res = Reservoir(1, 200, seed=1)
    for i in range(0, 20_000, 1000):
        res.update(np.arange(i, i + 1000, dtype=float)[:, None])
    values = res.sample()[:, 0]
    assert len(values) == 200 and len(set(values)) == 200
    # Uniform over 0..19999: mean 9999.5, SD of the mean of 200 ~ 408.
    assert abs(values.mean() - 9999.5) < 4 * 5773.5 / np.sqrt(200)
    assert (values >= 10_000).sum() > 60  # late rows do get in


def test_inception_score_matches_torch_fidelity() -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    rng = np.random.default_rng(7)
    logits = rng.standard_normal((40, 50)) * 3
    stats = InceptionScoreStats(50, splits=4)
    for i in range(0, 40, 6):
        stats.update(logits[i : i + 6])
    ours_mean, ours_std = stats.compute()
    # Image i is in split i % 4; torch-fidelity (no shuffle) cuts contiguous chunks.
    order = np.concatenate([np.arange(s, 40, 4) for s in range(4)])
    theirs = isc_features_to_metric(torch.from_numpy(logits[order]), splits=4, shuffle=False)
    print(f"IS ours={ours_mean:.8f} torch-fidelity={theirs['inception_score_mean']:.8f}")
    assert ours_mean == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours_std == pytest.approx(theirs["inception_score_std"], rel=1e-6)
