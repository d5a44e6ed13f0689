"""Aggregation: means and intervals checked against direct scipy computations."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.scorers.base import Metric
from audit.stats import resample
from audit.stats.aggregate import (
    ALL,
    AggregateOptions,
    ocr_f1_run,
    summarize,
)
from audit.stats.columns import resolve_metrics
from audit.stats.resample import bootstrap_means, clopper_pearson, percentile_interval
from tests.synthetic import synthetic_frames


def _scipy_percentile(x: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize("n", [2, 37, 400])
def test_bootstrap_matches_scipy_percentile(n: int) -> None:
    x = np.random.default_rng(n).gamma(2.0, size=n)
    low, high = percentile_interval(bootstrap_means(x, 999, seed=5), 0.95)
    ref = _scipy_percentile(x, 999, 5)
    assert low[0] == pytest.approx(ref[0], rel=1e-9)
    assert high[0] == pytest.approx(ref[1], rel=1e-9)


def test_bootstrap_chunked_draws_match_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the chunked (uncached) path: the stream must not depend on the chunking.
    monkeypatch.setattr(resample, "CACHE_ELEMENTS", 0)
    monkeypatch.setattr(resample, "CHUNK_ELEMENTS", 3 * 101)
    x = np.random.default_rng(1).normal(size=101)
    low, high = percentile_interval(bootstrap_means(x, 500, seed=9), 0.95)
    ref = _scipy_percentile(x, 500, 9)
    assert (low[0], high[0]) == pytest.approx(ref, rel=1e-9)


def test_clopper_pearson_matches_binomtest() -> None:
    cases = [(0, 10), (3, 10), (10, 10), (57, 200), (1, 1)]
    low, high = clopper_pearson(
        np.array([k for k, _ in cases]), np.array([n for _, n in cases]), 0.9
    )
    for (k, n), lo, hi in zip(cases, low, high, strict=True):
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert lo == pytest.approx(ref.low, abs=1e-12)
        assert hi == pytest.approx(ref.high, abs=1e-12)


@pytest.fixture(scope="module")
def frames():  # type: ignore[no-untyped-def]
    return synthetic_frames(n_prompts=30, seeds=(0, 1, 2), seed=3)


@pytest.fixture(scope="module")
def summary(frames):  # type: ignore[no-untyped-def]
    return summarize(frames.images, frames.catalog, frames.sets)


def _row(summary, cell, category, metric):  # type: ignore[no-untyped-def]
    s = summary.stats
    sel = (
        (s["model"] == cell[0])
        & (s["sampler"] == cell[1])
        & (s["steps"] == cell[2])
        & (s["guidance"] == cell[3])
        & (s["category"] == category)
        & (s["metric"] == metric)
    )
    assert sel.sum() == 1, (cell, category, metric)
    return s[sel].iloc[0]


def _cell_values(frames, cell, category, metric):  # type: ignore[no-untyped-def]
    im = frames.images
    sel = (
        (im["model"] == cell[0])
        & (im["sampler"] == cell[1])
        & (im["steps"] == cell[2])
        & (im["guidance"] == cell[3])
    )
    if category != ALL:
        sel &= im["category"] == category
    values = pd.to_numeric(im.loc[sel, metric]).to_numpy(dtype=float)
    return values[~np.isnan(values)]


CELL = ("model-b", "euler_a", 25, 7.5)


@pytest.mark.parametrize(
    ("category", "metric"),
    [(ALL, "clip_score"), ("text", "clip_score"), (ALL, "brisque"), (ALL, "ocr_precision")],
)
def test_continuous_interval_equals_scipy(frames, summary, category, metric) -> None:  # type: ignore[no-untyped-def]
    row = _row(summary, CELL, category, metric)
    x = _cell_values(frames, CELL, category, metric)
    assert row["n"] == x.size
    assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
    # Same seed and resample count as the default options: the same numbers as scipy.
    ref = _scipy_percentile(x, AggregateOptions().n_resamples, AggregateOptions().seed)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(ref, rel=1e-9)
    assert row["ci_method"] == "bootstrap-percentile"


@pytest.mark.parametrize(
    ("category", "metric"), [(ALL, "nsfw_flag"), ("counting", "count_correct")]
)
def test_binary_interval_equals_exact_binomial(frames, summary, category, metric) -> None:  # type: ignore[no-untyped-def]
    row = _row(summary, CELL, category, metric)
    x = _cell_values(frames, CELL, category, metric)
    ref = stats.binomtest(int(x.sum()), x.size).proportion_ci(method="exact")
    assert row["n"] == x.size
    assert row["mean"] == pytest.approx(x.mean())
    assert row["ci_low"] == pytest.approx(ref.low, abs=1e-12)
    assert row["ci_high"] == pytest.approx(ref.high, abs=1e-12)


def test_every_cell_and_category_matches_pandas(frames, summary) -> None:  # type: ignore[no-untyped-def]
    im = frames.images
    ref = im.groupby(["model", "sampler", "steps", "guidance", "category"])["clip_score"].agg(
        ["mean", "size"]
    )
    got = summary.stats[(summary.stats["metric"] == "clip_score")]
    got = got[got["category"] != ALL].set_index(
        ["model", "sampler", "steps", "guidance", "category"]
    )
    assert len(got) == len(ref)
    assert np.allclose(got.loc[ref.index, "mean"], ref["mean"])
    assert (got.loc[ref.index, "n"].to_numpy() == ref["size"].to_numpy()).all()
    pooled = im.groupby(["model", "sampler", "steps", "guidance"])["clip_score"].mean()
    assert np.allclose(summary.wide()["clip_score"].to_numpy(), pooled.to_numpy())


def test_ocr_f1_run_from_averaged_precision_and_recall(frames, summary) -> None:  # type: ignore[no-untyped-def]
    p = _cell_values(frames, CELL, ALL, "ocr_precision")
    r = _cell_values(frames, CELL, ALL, "ocr_recall")
    expected = 2 * p.mean() * r.mean() / (p.mean() + r.mean())
    row = _row(summary, CELL, ALL, "ocr_f1_run")
    assert row["mean"] == pytest.approx(expected)
    assert ocr_f1_run(p, r) == pytest.approx(expected)
    # Not the mean of per-image F, which differs on this data.
    per_image = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0).mean()
    assert abs(per_image - expected) > 1e-3

    def f1(pp, rr, axis=-1):  # type: ignore[no-untyped-def]
        mp, mr = pp.mean(axis=axis), rr.mean(axis=axis)
        return 2 * mp * mr / (mp + mr)

    ref = stats.bootstrap(
        (p, r),
        f1,
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    assert row["ci_low"] == pytest.approx(ref.confidence_interval.low, rel=1e-9)
    assert row["ci_high"] == pytest.approx(ref.confidence_interval.high, rel=1e-9)


def test_nan_rows_are_left_out_even_when_bootstrapped_with_other_metrics() -> None:
    rng = np.random.default_rng(4)
    n = 60
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    b[::3] = np.nan  # defined on 40 images
    c = rng.normal(size=n)
    c[::3] = np.nan  # same images as b: one joint bootstrap
    images = pd.DataFrame(
        {
            "model": "m",
            "sampler": "s",
            "steps": 1,
            "guidance": 1.0,
            "category": "x",
            "a": a,
            "b": b,
            "c": c,
        }
    )
    s = summarize(images, options=AggregateOptions(by_category=False)).stats.set_index("metric")
    assert s.loc["b", "n"] == 40 and s.loc["a", "n"] == 60
    for name, values in (("a", a), ("b", b), ("c", c)):
        x = values[~np.isnan(values)]
        assert (s.loc[name, "ci_low"], s.loc[name, "ci_high"]) == pytest.approx(
            _scipy_percentile(x, 2000, 0), rel=1e-9
        )


def test_large_groups_use_the_t_interval_which_agrees_with_the_bootstrap() -> None:
    n = 10_001  # just above the default bootstrap_max_n
    x = np.random.default_rng(8).gamma(2.0, 1.5, size=n)  # skewed, like many scores
    images = pd.DataFrame({"model": "m", "sampler": "s", "steps": 1, "guidance": 1.0, "v": x})
    cheap = summarize(images).stats.iloc[0]
    full = summarize(images, options=AggregateOptions(bootstrap_max_n=n)).stats.iloc[0]
    assert cheap["ci_method"] == "t" and full["ci_method"] == "bootstrap-percentile"
    width = full["ci_high"] - full["ci_low"]
    # Measured: the endpoints differ by 0.2% and 1.8% of the width (bootstrap Monte Carlo error).
    assert abs(cheap["ci_low"] - full["ci_low"]) < 0.05 * width
    assert abs(cheap["ci_high"] - full["ci_high"]) < 0.05 * width


def test_columns_kinds_and_directions() -> None:
    images = pd.DataFrame(
        {
            "model": "m",
            "sampler": "s",
            "steps": 1,
            "guidance": 1.0,
            "gen_seconds": [1.0, 2.0, 4.0],
            "peak_mem_mb": [10.0, 30.0, 20.0],
            "custom_rate": [0.0, 1.0, np.nan],
            "custom_score": [0.5, 0.7, 0.1],
            "ocr_text": ["a", None, "b"],
            "c2pa_state": ["Valid", None, "Invalid"],
            "nan_or_black": [False, True, False],
            "pred_count": [1.0, 2.0, 3.0],
        }
    )
    catalog = {"pred_count": Metric("pred_count", "none", "category")}
    found = resolve_metrics(images, catalog, directions={"custom_score": "higher"})
    assert list(found) == ["custom_rate", "custom_score", "nan_or_black"]
    assert found["custom_rate"].kind == "binary"
    assert found["custom_score"].kind == "continuous"
    assert found["custom_score"].direction == "higher"
    assert found["nan_or_black"].direction == "lower"
    eff = summarize(images).efficiency.iloc[0]
    assert eff["images_per_s"] == pytest.approx(1 / (7.0 / 3))
    assert eff["peak_mem_mb"] == 30.0
    assert eff["n_images"] == 3


def test_set_metrics_pass_through_and_single_values_get_no_interval(frames) -> None:  # type: ignore[no-untyped-def]
    s = summarize(frames.images, frames.catalog, frames.sets).stats
    fid = s[s["metric"] == "fid"]
    assert len(fid) == len(frames.sets)
    assert (fid["direction"] == "lower").all() and (fid["ci_method"] == "scorer").all()
    assert np.allclose(fid["ci_low"].to_numpy(), frames.sets["ci_low"].to_numpy())
    one = pd.DataFrame({"model": "m", "sampler": "s", "steps": 1, "guidance": 1.0, "v": [0.3]})
    row = summarize(one).stats.iloc[0]
    assert row["n"] == 1 and row["mean"] == 0.3 and np.isnan(row["ci_low"])


def test_twenty_thousand_images_by_twenty_metrics_is_fast() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    cells = [(m, s, st) for m in "ab" for s in ("ddim", "euler", "dpm", "unipc") for st in (10, 25)]
    per = n // len(cells)
    images = pd.DataFrame(
        {
            "model": np.repeat([c[0] for c in cells], per),
            "sampler": np.repeat([c[1] for c in cells], per),
            "steps": np.repeat([c[2] for c in cells], per),
            "guidance": 7.5,
            "category": np.tile(np.repeat([f"cat{i}" for i in range(10)], per // 10), len(cells)),
            "gen_seconds": rng.random(n),
        }
    )
    text = images["category"].isin(["cat1", "cat2"]).to_numpy()
    for j in range(14):
        images[f"c{j}"] = rng.normal(size=n)
    for j in range(4):
        images[f"b{j}"] = (rng.random(n) < 0.3).astype(float)
    images["ocr_precision"] = np.where(text, rng.random(n), np.nan)
    images["ocr_recall"] = np.where(text, rng.random(n), np.nan)
    summarize(images.head(200))  # warm imports
    start = time.perf_counter()
    out = summarize(images)
    elapsed = time.perf_counter() - start
    # 16 cells x (11 groups x 18 metrics + OCR P, R, F in 3 groups); about 1 s here.
    assert len(out.stats) == 16 * (11 * 18 + 3 * 3)
    assert elapsed < 8.0, f"summarize took {elapsed:.1f} s"


def test_per_prompt_set_values_become_a_mean_over_prompts() -> None:
    values = np.random.default_rng(2).uniform(0.2, 0.6, 9)
    sets = pd.DataFrame(
        {
            "model": "m",
            "sampler": "s",
            "steps": 1,
            "guidance": 1.0,
            "width": 64,
            "height": 64,
            "prompt_id": [f"p{i}" for i in range(9)] + [""],
            "scorer": "diversity",
            "metric": ["diversity_clip"] * 9 + ["fid"],
            "value": [*values, 31.0],
            "ci_low": [np.nan] * 9 + [30.0],
            "ci_high": [np.nan] * 9 + [32.0],
            "n": 4,
            "label": "x",
        }
    )
    images = pd.DataFrame({"model": ["m"], "sampler": "s", "steps": 1, "guidance": 1.0})
    stats_ = summarize(images, sets=sets).stats.set_index("metric")
    div = stats_.loc["diversity_clip"]
    assert div["n"] == 9 and div["mean"] == pytest.approx(values.mean())
    assert (div["ci_low"], div["ci_high"]) == pytest.approx(
        _scipy_percentile(values, 2000, 0), rel=1e-9
    )
    assert (stats_.loc["fid", "ci_low"], stats_.loc["fid", "ci_high"]) == (30.0, 32.0)
