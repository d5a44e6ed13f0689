"""The gate's statistics: error rates by simulation, intervals and p-values against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.stats.compare import (
    compare_binary,
    compare_continuous,
    compare_set,
    expanded_tail,
    holm,
)

ALPHA = 0.05
SIMULATIONS = 200
BINARY_PAIRS = 800  # prompts x seeds in one simulated gate run
CONTINUOUS_PAIRS = 150


def _binary_runs(rng: np.random.Generator, shortfall: float) -> tuple[np.ndarray, np.ndarray]:
    """Paired outcomes: each prompt has its own difficulty, shared by both models."""
    easy = rng.uniform(0.2, 0.9, BINARY_PAIRS)
    base = (rng.random(BINARY_PAIRS) < easy).astype(float)
    cand = (rng.random(BINARY_PAIRS) < np.clip(easy - shortfall, 0, 1)).astype(float)
    return base, cand


def _continuous_runs(rng: np.random.Generator, shift: float) -> tuple[np.ndarray, np.ndarray]:
    prompt = rng.normal(0.0, 2.0, CONTINUOUS_PAIRS)  # per-prompt effect: pairs correlate
    base = 30.0 + prompt + rng.normal(0.0, 1.5, CONTINUOUS_PAIRS)
    cand = 30.0 + prompt + shift + rng.normal(0.0, 1.5, CONTINUOUS_PAIRS)
    return base, cand


def _flag_rate(results: list) -> float:  # type: ignore[type-arg]
    return float(np.mean([r.p_regress < ALPHA for r in results]))


@pytest.mark.parametrize("margin", [0.0, 0.02])
def test_binary_same_distribution_rarely_flags(margin: float) -> None:
    rng = np.random.default_rng(11)
    results = [
        compare_binary(*_binary_runs(rng, 0.0), 1.0, margin, ALPHA) for _ in range(SIMULATIONS)
    ]
    assert _flag_rate(results) <= 0.08


def test_binary_shortfall_beyond_margin_is_flagged() -> None:
    rng = np.random.default_rng(12)
    # The candidate is right 10 points less often; the gate tolerates 2 points.
    results = [
        compare_binary(*_binary_runs(rng, 0.10), 1.0, 0.02, ALPHA) for _ in range(SIMULATIONS)
    ]
    assert _flag_rate(results) >= 0.90


def test_binary_lower_is_better() -> None:
    rng = np.random.default_rng(13)
    flags = []
    for _ in range(SIMULATIONS):
        base, good = _binary_runs(rng, 0.10)
        # As a rate of bad outcomes (e.g. nsfw_flag): the candidate is flagged more often.
        flags.append(compare_binary(1 - base, 1 - good, -1.0, 0.02, ALPHA))
    assert _flag_rate(flags) >= 0.90
    assert all(r.effect < 0 and r.delta > 0 for r in flags[:20])


@pytest.mark.parametrize("test", ["bootstrap", "wilcoxon"])
def test_continuous_same_distribution_rarely_flags(test: str) -> None:
    rng = np.random.default_rng(21)
    results = [
        compare_continuous(*_continuous_runs(rng, 0.0), 1.0, 0.0, ALPHA, test, 2000)
        for _ in range(SIMULATIONS)
    ]
    assert _flag_rate(results) <= 0.08


@pytest.mark.parametrize("test", ["bootstrap", "wilcoxon"])
def test_continuous_shortfall_beyond_margin_is_flagged(test: str) -> None:
    rng = np.random.default_rng(22)
    # One point of CLIP score lost; the gate tolerates a quarter point.
    results = [
        compare_continuous(*_continuous_runs(rng, -1.0), 1.0, 0.25, ALPHA, test, 2000)
        for _ in range(SIMULATIONS)
    ]
    assert _flag_rate(results) >= 0.90


def test_continuous_lower_is_better() -> None:
    rng = np.random.default_rng(23)
    base, cand = _continuous_runs(rng, +1.0)  # e.g. brisque went up: worse
    r = compare_continuous(base, cand, -1.0, 0.25, ALPHA)
    assert r.p_regress < ALPHA and r.effect < 0 < r.delta


def test_identical_inputs_always_pass() -> None:
    rng = np.random.default_rng(31)
    for _ in range(20):
        b, _ = _binary_runs(rng, 0.0)
        x, _ = _continuous_runs(rng, 0.0)
        for r in (
            compare_binary(b, b, 1.0, 0.0, ALPHA),
            compare_binary(b, b, -1.0, 0.0, ALPHA),
            compare_continuous(x, x, 1.0, 0.0, ALPHA),
            compare_continuous(x, x, -1.0, 0.0, ALPHA, "wilcoxon"),
        ):
            assert r.effect == 0 and r.ci_low == 0 and r.ci_high == 0
            assert r.p_regress == 1.0 and r.p_improve == 1.0


def test_binary_matches_exact_mcnemar_and_clopper_pearson() -> None:
    rng = np.random.default_rng(41)
    base, cand = _binary_runs(rng, 0.05)
    r = compare_binary(base, cand, 1.0, 0.0, ALPHA)
    better = int(np.sum((cand == 1) & (base == 0)))
    worse = int(np.sum((cand == 0) & (base == 1)))
    d, n = better + worse, base.size
    assert r.p_regress == pytest.approx(
        stats.binomtest(better, d, 0.5, alternative="less").pvalue, rel=1e-9
    )
    assert r.p_improve == pytest.approx(
        stats.binomtest(better, d, 0.5, alternative="greater").pvalue, rel=1e-9
    )
    ci = stats.binomtest(better, d).proportion_ci(confidence_level=1 - 2 * ALPHA, method="exact")
    assert r.ci_low == pytest.approx(d * (2 * ci.low - 1) / n, rel=1e-9)
    assert r.ci_high == pytest.approx(d * (2 * ci.high - 1) / n, rel=1e-9)
    assert r.effect == pytest.approx(cand.mean() - base.mean())


def test_binary_margin_is_a_shift_of_the_null() -> None:
    base = np.array([1.0] * 30 + [0.0] * 70)
    cand = np.array([0.0] * 20 + [1.0] * 10 + [0.0] * 60 + [1.0] * 10)  # 20 worse, 10 better
    ps = [compare_binary(base, cand, 1.0, m, ALPHA).p_regress for m in (0.0, 0.02, 0.05, 0.1)]
    assert all(a < b for a, b in zip(ps, ps[1:], strict=False))  # larger margin, weaker evidence
    # 30 discordant pairs out of 100: a shortfall can never exceed 0.3.
    assert compare_binary(base, cand, 1.0, 0.3, ALPHA).p_regress == 1.0


def test_continuous_interval_matches_scipy_bootstrap_and_wilcoxon() -> None:
    rng = np.random.default_rng(51)
    base, cand = _continuous_runs(rng, -0.3)
    r = compare_continuous(base, cand, 1.0, 0.1, ALPHA, "wilcoxon", n_resamples=3000, seed=7)
    diff = cand - base
    tail = expanded_tail(ALPHA, diff.size)
    ref = stats.bootstrap(
        (diff,),
        np.mean,
        n_resamples=3000,
        method="percentile",
        confidence_level=1 - 2 * tail,
        rng=np.random.default_rng(7),
    )
    assert r.ci_low == pytest.approx(ref.confidence_interval.low, rel=1e-9)
    assert r.ci_high == pytest.approx(ref.confidence_interval.high, rel=1e-9)
    assert r.p_regress == pytest.approx(stats.wilcoxon(diff + 0.1, alternative="less").pvalue)
    assert r.p_improve == pytest.approx(stats.wilcoxon(diff, alternative="greater").pvalue)
    # The expanded tail is the normal tail of sqrt(n/(n-1)) t_{n-1}: wider than 5% z.
    assert tail == pytest.approx(0.0484, abs=0.0002)  # n = 150


def test_bootstrap_p_value_agrees_with_its_interval() -> None:
    rng = np.random.default_rng(52)
    for shift in (-0.6, -0.45, -0.3):
        r = compare_continuous(*_continuous_runs(rng, shift), 1.0, 0.25, ALPHA)
        assert (r.p_regress < ALPHA) == (r.ci_high < -0.25)


def test_set_level_normal_approximation() -> None:
    base = np.array([20.0, 22.0])
    cand = np.array([23.0, 26.0])  # FID up 3.5 on average: worse
    half = 1.96 * np.array([1.0, 1.0])  # se 1 per value
    r = compare_set(
        base, base - half, base + half, cand, cand - half, cand + half, -1.0, 1.0, ALPHA
    )
    se = np.sqrt(4.0) / 2  # four unit variances, averaged over two cells
    assert r.effect == pytest.approx(-3.5)
    assert r.p_regress == pytest.approx(stats.norm.cdf((-3.5 + 1.0) / se), rel=1e-3)
    assert r.ci_high == pytest.approx(-3.5 + stats.norm.ppf(0.95) * se, rel=1e-3)


def test_holm() -> None:
    adjusted = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5])) == pytest.approx([0.5])
    assert holm(np.array([0.9, 0.8])) == pytest.approx([1.0, 1.0])
