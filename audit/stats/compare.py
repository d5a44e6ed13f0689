"""Paired comparison of a candidate against a baseline, one metric at a time.

Sign convention: `delta` = candidate mean - baseline mean in the metric's own units;
`effect` = delta * sign, sign = +1 when higher is better and -1 when lower is better, so a
positive effect always means the candidate is better. `margin` (>= 0) is the shortfall the
gate tolerates, in effect units.

Each comparison answers two one-sided questions at level alpha:

* regression: H0 effect >= -margin against H1 effect < -margin  ->  `p_regress`
  (margin 0 gives the one-sided McNemar / bootstrap test of "worse at all");
* improvement: H0 effect <= 0 against H1 effect > 0  ->  `p_improve`.

The interval is two-sided at 1 - 2*alpha (90% for alpha 0.05): the interval these one-sided
tests invert, so "upper bound < -margin" and "p_regress < alpha" agree.

Tests:

* binary, `mcnemar`: exact McNemar, i.e. conditional on the D discordant pairs the number
  of pairs where only the candidate is right is Binomial(D, pi), and effect = D(2 pi - 1)/n.
  The margin maps to pi0 = (1 - margin n / D) / 2; the interval is the exact Clopper-Pearson
  interval for pi mapped the same way. No discordant pairs: effect 0, interval [0, 0].
* continuous, `bootstrap`: paired bootstrap of the mean difference (same resamples as
  scipy.stats.bootstrap with the same seed), with Hesterberg's "expanded percentile" levels
  (tail alpha' = Phi(-sqrt(n/(n-1)) t_{n-1, 1-alpha})) so that small samples keep their size.
* continuous, `wilcoxon`: Wilcoxon signed-rank p-values on the differences (shifted by the
  margin for the regression test); the effect and interval reported are still the mean and
  its bootstrap interval, so all verdicts read on one scale.
* set-level (FID...): per cell, a normal approximation rebuilt from the two 95% intervals
  the scorer reported (se = width / 3.92); cells are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.stats.resample import bootstrap_means, clopper_pearson


@dataclass(frozen=True)
class Comparison:
    test: str
    n: int
    base_mean: float
    cand_mean: float
    delta: float
    effect: float
    ci_low: float
    ci_high: float
    p_regress: float
    p_improve: float
    detail: str = ""


def compare_binary(
    base: np.ndarray, cand: np.ndarray, sign: float, margin: float, alpha: float
) -> Comparison:
    """Exact McNemar comparison of paired 0/1 outcomes."""
    b, c = _paired(base, cand)
    n = b.size
    good_b = b if sign > 0 else 1.0 - b
    good_c = c if sign > 0 else 1.0 - c
    better = int(np.sum((good_c == 1) & (good_b == 0)))  # only the candidate got it right
    worse = int(np.sum((good_c == 0) & (good_b == 1)))
    d = better + worse
    effect = (better - worse) / n
    if d == 0:
        low = high = 0.0
        p_regress = p_improve = 1.0
    else:
        pi_low, pi_high = _cp_bounds(better, d, 1.0 - 2.0 * alpha)
        low, high = d * (2 * pi_low - 1) / n, d * (2 * pi_high - 1) / n
        pi0 = (1.0 - margin * n / d) / 2.0
        # Too few discordant pairs for the shortfall to exceed the margin: no evidence.
        p_regress = float(stats.binom.cdf(better, d, pi0)) if pi0 > 0 else 1.0
        p_improve = float(stats.binom.sf(better - 1, d, 0.5))
    return Comparison(
        test="mcnemar",
        n=n,
        base_mean=float(b.mean()),
        cand_mean=float(c.mean()),
        delta=float(c.mean() - b.mean()),
        effect=float(effect),
        ci_low=float(low),
        ci_high=float(high),
        p_regress=p_regress,
        p_improve=p_improve,
        detail=f"discordant pairs: {better} better, {worse} worse",
    )


def compare_continuous(
    base: np.ndarray,
    cand: np.ndarray,
    sign: float,
    margin: float,
    alpha: float,
    test: str = "bootstrap",
    n_resamples: int = 4000,
    seed: int = 0,
) -> Comparison:
    """Paired bootstrap (or Wilcoxon) comparison of means; needs at least 2 pairs."""
    b, c = _paired(base, cand)
    n = b.size
    if n < 2:
        raise ValueError("a continuous comparison needs at least 2 pairs")
    diff = sign * (c - b)
    effect = float(diff.mean())
    if np.all(diff == diff[0]):
        # No spread: every resample mean equals the mean, so the answer is exact.
        low = high = effect
        p_regress = 0.0 if effect < -margin else 1.0
        p_improve = 0.0 if effect > 0 else 1.0
    else:
        dist = bootstrap_means(diff, n_resamples, seed)[:, 0]
        tail = expanded_tail(alpha, n)
        low, high = (float(v) for v in np.quantile(dist, [tail, 1.0 - tail]))
        q_regress = (np.count_nonzero(dist >= -margin) + 1) / (n_resamples + 1)
        q_improve = (np.count_nonzero(dist <= 0.0) + 1) / (n_resamples + 1)
        p_regress, p_improve = (float(_expanded_p(q, n)) for q in (q_regress, q_improve))
    if test == "wilcoxon":
        p_regress = _wilcoxon(diff + margin, "less")
        p_improve = _wilcoxon(diff, "greater")
    elif test != "bootstrap":
        raise ValueError(f"unknown continuous test '{test}'")
    return Comparison(
        test=test,
        n=n,
        base_mean=float(b.mean()),
        cand_mean=float(c.mean()),
        delta=float((c - b).mean()),
        effect=effect,
        ci_low=low,
        ci_high=high,
        p_regress=p_regress,
        p_improve=p_improve,
        detail=f"{n_resamples} paired bootstrap resamples, seed {seed}",
    )


def compare_set(
    base: np.ndarray,
    base_low: np.ndarray,
    base_high: np.ndarray,
    cand: np.ndarray,
    cand_low: np.ndarray,
    cand_high: np.ndarray,
    sign: float,
    margin: float,
    alpha: float,
    reported_confidence: float = 0.95,
) -> Comparison:
    """Set-level values per matched cell with the intervals their scorer reported."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (base, base_low, base_high)]
    arrays += [np.asarray(a, dtype=np.float64) for a in (cand, cand_low, cand_high)]
    b, bl, bh, c, cl, ch = arrays
    z_rep = float(stats.norm.ppf(0.5 + reported_confidence / 2.0))
    var = ((bh - bl) / (2 * z_rep)) ** 2 + ((ch - cl) / (2 * z_rep)) ** 2
    k = b.size
    effect = float(np.mean(sign * (c - b)))
    se = float(np.sqrt(var.sum()) / k)
    z = float(stats.norm.ppf(1.0 - alpha))
    if se == 0.0:
        p_regress = 0.0 if effect < -margin else 1.0
        p_improve = 0.0 if effect > 0 else 1.0
    else:
        p_regress = float(stats.norm.cdf((effect + margin) / se))
        p_improve = float(stats.norm.sf(effect / se))
    return Comparison(
        test="set-normal",
        n=k,
        base_mean=float(b.mean()),
        cand_mean=float(c.mean()),
        delta=float(np.mean(c - b)),
        effect=effect,
        ci_low=effect - z * se,
        ci_high=effect + z * se,
        p_regress=p_regress,
        p_improve=p_improve,
        detail=f"{k} cell(s); se from the scorers' {reported_confidence:.0%} intervals",
    )


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def expanded_tail(alpha: float, n: int) -> float:
    """Hesterberg's expanded percentile level: the normal tail matching sqrt(n/(n-1)) t."""
    stretch = np.sqrt(n / (n - 1.0)) * stats.t.ppf(1.0 - alpha, n - 1)
    return float(stats.norm.cdf(-stretch))


def _expanded_p(q: float, n: int) -> float:
    """Map a raw bootstrap tail fraction q to the p-value of the expanded test, so that
    p < alpha exactly when q < expanded_tail(alpha, n)."""
    return float(stats.t.cdf(stats.norm.ppf(q) / np.sqrt(n / (n - 1.0)), n - 1))


def _wilcoxon(x: np.ndarray, alternative: str) -> float:
    if not np.any(x != 0):
        return 1.0  # every difference is zero: nothing to rank, no evidence
    return float(stats.wilcoxon(x, alternative=alternative).pvalue)


def _cp_bounds(k: int, n: int, confidence: float) -> tuple[float, float]:
    low, high = clopper_pearson(np.array([k]), np.array([n]), confidence)
    return float(low[0]), float(high[0])


def _paired(base: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(base, dtype=np.float64)
    c = np.asarray(cand, dtype=np.float64)
    if b.shape != c.shape or b.ndim != 1:
        raise ValueError("paired samples must be 1-d arrays of equal length")
    if b.size == 0:
        raise ValueError("no pairs to compare")
    return b, c
