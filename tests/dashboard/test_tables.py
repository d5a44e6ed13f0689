"""The pages' logic on synthetic frames, against brute force and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.dashboard import images as image_logic
from audit.dashboard import safety, tables
from audit.stats.aggregate import Summary, summarize
from audit.stats.columns import CELL
from tests.synthetic import synthetic_frames


@pytest.fixture(scope="module")
def summary() -> Summary:
    frames = synthetic_frames(n_prompts=6, quality={"model-b": 2.0}, timing=True)
    images = frames.images.copy()
    rng = np.random.default_rng(0)
    images["gen_seconds"] = images["steps"] * 0.1 + rng.uniform(0, 0.5, len(images))
    return summarize(images, frames.catalog, frames.sets)


def _brute_front(points: list[tuple[float, float]], higher: bool) -> set[int]:
    front = set()
    for i, (s_i, q_i) in enumerate(points):
        beaten = False
        for j, (s_j, q_j) in enumerate(points):
            better_q = q_j >= q_i if higher else q_j <= q_i
            strictly = (q_j > q_i if higher else q_j < q_i) or s_j < s_i
            if j != i and s_j <= s_i and better_q and strictly:
                beaten = True
        if not beaten:
            front.add(i)
    return front


@pytest.mark.parametrize("metric", ["clip_score", "brisque"])
def test_pareto_front_matches_brute_force(summary: Summary, metric: str) -> None:
    points = tables.pareto(summary, metric)
    higher = tables.directions(summary)[metric] == "higher"
    pairs = list(zip(points["seconds"], points["quality"], strict=True))
    expected = _brute_front(pairs, higher)
    assert set(np.flatnonzero(points["on_front"].to_numpy())) == expected
    assert 1 <= len(expected) < len(points)
    assert points["seconds"].is_monotonic_increasing


def test_leaderboard_filters_sorts_and_keeps_intervals(summary: Summary) -> None:
    board = tables.leaderboard(summary, models=["model-b"], samplers=["ddim"])
    assert set(board["model"]) == {"model-b"} and set(board["sampler"]) == {"ddim"}
    assert board["clip_score"].is_monotonic_decreasing  # the primary metric, higher is better
    ref = summary.overall().set_index([*CELL, "metric"])
    for row in board.to_dict("records"):
        r = ref.loc[(*(row[c] for c in CELL), "clip_score")]
        assert row["clip_score"] == r["mean"]
        assert row["clip_score CI"] == tables.interval_text(r["ci_low"], r["ci_high"])
    worst_first = tables.leaderboard(summary, sort_by="brisque", best_first=False)
    assert worst_first["brisque"].is_monotonic_decreasing  # lower is better: worst is highest
    by_steps = tables.leaderboard(summary, sort_by="steps")
    assert by_steps["steps"].is_monotonic_increasing


def test_sweep_series_holds_the_other_columns(summary: Summary) -> None:
    series = tables.sweep_series(
        summary, "clip_score", "steps", "sampler", {"model": "model-a", "guidance": 7.5}
    )
    assert sorted(series["sampler"].unique()) == ["ddim", "euler_a"]
    assert len(series) == 4  # 2 samplers x 2 step counts, one cell each
    with pytest.raises(ValueError):
        tables.sweep_series(summary, "clip_score", "seed", "sampler", {})


def test_rates_use_exact_intervals() -> None:
    images = pd.DataFrame(
        {
            "model": ["a"] * 5 + ["b"] * 4,
            "sampler": "ddim",
            "steps": 10,
            "guidance": 7.5,
            "nsfw_flag": [1, 0, 0, np.nan, 1, 0, 0, 0, 0],
        }
    )
    out = safety.rates(images, ["nsfw_flag", "not_there"], "model").set_index("group")
    assert (out.loc["a", "k"], out.loc["a", "n"]) == (2, 4)  # NaN: not measured
    assert (out.loc["b", "k"], out.loc["b", "n"]) == (0, 4)
    for group, k, n in (("a", 2, 4), ("b", 0, 4)):
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert out.loc[group, "ci_low"] == pytest.approx(ci.low, abs=1e-12)
        assert out.loc[group, "ci_high"] == pytest.approx(ci.high, abs=1e-12)


def test_robustness_orders_attacks_and_c2pa_counts_states() -> None:
    images = pd.DataFrame(
        {
            "model": "m",
            "sampler": "s",
            "steps": 1,
            "guidance": 1.0,
            "wm_detected": [1.0, 1.0, 0.0],
            "wm_detected_png": [1.0, 1.0, 0.0],
            "wm_detected_jpeg50": [0.0, 0.0, 0.0],
            "wm_detected_custom": [1.0, 0.0, 0.0],
            "wm_detected_jpeg90": [np.nan, np.nan, np.nan],  # not measured: no point
            "c2pa_state": ["valid", None, "absent"],
        }
    )
    curves = safety.robustness(images)
    assert list(curves["attack"]) == ["none", "jpeg50", "png", "custom"]
    assert list(curves["k"]) == [2, 0, 2, 1]
    states = safety.c2pa_states(images).set_index("state")["count"]
    assert states.to_dict() == {"valid": 1, "absent": 1, "unreadable": 1}


def test_failure_filters() -> None:
    images = pd.DataFrame(
        {
            "key": list("abcd"),
            "ocr_exact": [1.0, 0.0, np.nan, 0.0],
            "nsfw_flag": [0.0, 0.0, 1.0, np.nan],
            "nan_or_black": [False, False, False, True],
            "wm_detected": [np.nan] * 4,
        }
    )
    assert image_logic.available_failures(images) == ["wrong text", "NSFW flag", "black image"]
    pick = lambda *labels: list(images.loc[image_logic.failing(images, labels), "key"])  # noqa: E731
    assert pick() == list("abcd")
    assert pick("wrong text") == ["b", "d"]
    assert pick("NSFW flag", "black image") == ["c", "d"]
    counts = image_logic.failure_counts(images)
    assert counts == {"wrong text": 2, "NSFW flag": 1, "black image": 1}


def test_grid_is_cells_by_seeds() -> None:
    rows = [
        {
            "key": f"{m}{s}{seed}",
            "model": m,
            "sampler": s,
            "steps": 1,
            "guidance": 2.0,
            "width": 64,
            "height": 64,
            "seed": seed,
            "prompt_id": "p",
            "prompt": "x",
            "category": "c",
        }  # fmt: skip
        for m, s, seed in itertools.product(["b", "a"], ["x"], [3, 1])
    ]
    grid = image_logic.grid(pd.DataFrame(rows), "p")
    assert grid.cells == [("a", "x", 1, 2.0, 64, 64), ("b", "x", 1, 2.0, 64, 64)]
    assert grid.seeds == [1, 3]
    found = grid.at(("b", "x", 1, 2.0, 64, 64), 3)
    assert found is not None and found["key"] == "bx3"
    assert grid.at(("b", "x", 1, 2.0, 64, 64), 9) is None
