"""GenEval's headline number (mean of task means) beside the share of correct images.

Reference: djghosh13/geneval at commit af4902f, evaluation/summary_scores.py, run unchanged
(numpy 1.23.5, pandas 1.5.3, CPython 3.11.7) on a results.jsonl of GenEval's task sizes
(prompts per tag in its evaluation_metadata.jsonl: 80, 99, 80, 94, 100, 100; four images
each) where, per tag, the first CORRECT images were marked correct. It printed:

    % correct images: 53.35%
    single_object = 96.88% (310 / 320)   two_object = 73.23% (290 / 396)
    counting = 43.75% (140 / 320)        colors = 79.79% (300 / 376)
    position = 12.50% (50 / 400)         color_attr = 22.50% (90 / 400)
    Overall score (avg. over tasks): 0.54774
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.scorers.counting import CountingScorer
from audit.stats.aggregate import ALL, AggregateOptions, summarize
from audit.stats.task_mean import mean_of_task_means

PROMPTS = {
    "single_object": 80,
    "two_object": 99,
    "counting": 80,
    "colors": 94,
    "position": 100,
    "color_attr": 100,
}
CORRECT = {
    "single_object": 310,
    "two_object": 290,
    "counting": 140,
    "colors": 300,
    "position": 50,
    "color_attr": 90,
}
RECORDED_OVERALL = 0.54774  # printed with 5 decimals
RECORDED_CORRECT_IMAGES = 0.5335  # printed as 53.35%
RECORDED_TASKS = {
    "single_object": 0.9688,
    "two_object": 0.7323,
    "counting": 0.4375,
    "colors": 0.7979,
    "position": 0.1250,
    "color_attr": 0.2250,
}


def _images(model: str = "m") -> pd.DataFrame:
    rows = []
    for tag, n in PROMPTS.items():
        for i in range(4 * n):
            rows.append({"category": tag, "geneval_score": float(i < CORRECT[tag])})
    frame = pd.DataFrame(rows)
    return frame.assign(model=model, sampler="ddim", steps=50, guidance=7.5)


def _stats(images: pd.DataFrame) -> pd.DataFrame:
    catalog = {m.name: m for m in CountingScorer().metrics()}
    return summarize(images, catalog).stats


def test_overall_and_share_of_correct_images_match_summary_scores() -> None:
    stats = _stats(_images())
    overall = stats[stats["category"] == ALL].set_index("metric")
    assert overall.loc["geneval_overall", "mean"] == pytest.approx(RECORDED_OVERALL, abs=5e-6)
    assert overall.loc["geneval_score", "mean"] == pytest.approx(RECORDED_CORRECT_IMAGES, abs=5e-5)
    assert overall.loc["geneval_overall", "n"] == 2212
    tasks = stats[stats["metric"] == "geneval_score"].set_index("category")["mean"]
    for tag, rate in RECORDED_TASKS.items():
        assert tasks[tag] == pytest.approx(rate, abs=5e-5)


def test_the_two_numbers_differ_when_tasks_differ_in_size() -> None:
    """By hand: tasks of 1 and 3 images, rates 1 and 1/3: overall (1 + 1/3) / 2 = 2/3, while
    the share of correct images is 2/4."""
    got = mean_of_task_means(np.array([1.0, 1.0, 0.0, 0.0]), np.array(["a", "b", "b", "b"]))
    assert got.mean == pytest.approx(2 / 3)
    assert (got.n, got.tasks) == (4, 2)


def test_interval_is_a_stratified_bootstrap() -> None:
    values = _images()["geneval_score"].to_numpy()
    tasks = _images()["category"].to_numpy()
    got = mean_of_task_means(values, tasks, n_resamples=4000, seed=1)
    assert got.ci_low < got.mean < got.ci_high
    # Normal approximation of a mean of independent task rates, by hand.
    sizes = np.array([4 * PROMPTS[t] for t in PROMPTS])
    rates = np.array([CORRECT[t] for t in PROMPTS]) / sizes
    half = 1.96 * np.sqrt((rates * (1 - rates) / sizes).sum()) / len(sizes)
    assert got.ci_high - got.ci_low == pytest.approx(2 * half, rel=0.1)


def test_overall_per_cell_nan_left_out_and_labelled_columns() -> None:
    a = _images("a")
    b = _images("b").assign(geneval_score=lambda f: 1.0 - f["geneval_score"])
    b.loc[b.index[:10], "geneval_score"] = np.nan  # not judged (e.g. an unknown class)
    images = pd.concat([a, b], ignore_index=True)
    images["geneval_score@owl"] = images["geneval_score"]
    stats = _stats(images)
    rows = stats[stats["metric"].isin(["geneval_overall", "geneval_overall@owl"])]
    assert len(rows) == 4 and set(rows["category"]) == {ALL}
    got_b = rows[(rows["model"] == "b") & (rows["metric"] == "geneval_overall")].iloc[0]
    kept = b.dropna(subset=["geneval_score"])
    expected = kept.groupby("category")["geneval_score"].mean().mean()
    assert got_b["mean"] == pytest.approx(expected)
    assert got_b["n"] == len(kept)
    assert got_b["ci_method"] == "stratified-bootstrap"


def test_no_overall_without_geneval_scores() -> None:
    images = pd.DataFrame(
        {"model": "m", "sampler": "s", "steps": 1, "guidance": 1.0, "clip_score": [1.0, 2.0]}
    )
    assert "geneval_overall" not in set(summarize(images).stats["metric"])
    options = AggregateOptions(by_category=False)
    stats = summarize(_images(), options=options).stats
    assert "geneval_overall" in set(stats["metric"])  # tasks are used even when not listed
