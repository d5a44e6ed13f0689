"""GenEval's headline number: the mean of per-task accuracies, with a stratified interval.

GenEval's summary_scores.py prints two numbers over its results: "% correct images" (the
share of correct images, our pooled `geneval_score`) and "Overall score (avg. over tasks)",
`np.mean` of the per-tag accuracies. Tasks differ in size (80 to 100 prompts), so the two
differ; GenEval's tables report the second. Here a task is a prompt category: a GenEval
file imports its `tag` as the category.

The interval resamples images within each task (a stratified bootstrap), as a rerun of the
benchmark with the same prompts would vary. For 0/1 values the resampled task accuracy is
exactly Binomial(n_t, p_t) / n_t, so it is drawn that way instead of by index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.stats.resample import percentile_interval


@dataclass(frozen=True)
class TaskMean:
    mean: float
    ci_low: float
    ci_high: float
    n: int  # images
    tasks: int


def mean_of_task_means(
    values: np.ndarray,
    tasks: np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> TaskMean:
    """Mean over tasks of each task's mean of `values` (0/1 per image; NaN left out)."""
    values = np.asarray(values, dtype=np.float64)
    tasks = np.asarray(tasks)
    ok = ~np.isnan(values)
    values, tasks = values[ok], tasks[ok]
    if not values.size:
        return TaskMean(float("nan"), float("nan"), float("nan"), 0, 0)
    names, index = np.unique(tasks, return_inverse=True)
    sizes = np.bincount(index)
    rates = np.bincount(index, weights=values) / sizes
    mean = float(rates.mean())
    if values.size < 2:
        return TaskMean(mean, float("nan"), float("nan"), int(values.size), len(names))
    rng = np.random.default_rng(seed)
    draws = rng.binomial(sizes, np.clip(rates, 0.0, 1.0), size=(n_resamples, len(names)))
    low, high = percentile_interval((draws / sizes).mean(axis=1), confidence)
    return TaskMean(mean, float(low), float(high), int(values.size), len(names))
