"""Every page through Streamlit's AppTest against the fixture runs: no exception, and the
numbers shown are those of the frames (recomputed here with pandas and scipy)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.dashboard.tables import interval_text
from audit.stats.aggregate import summarize
from audit.stats.columns import CELL
from audit.stats.gate import DEFAULT_GATE_PATH, load_gate_config, run_gate
from audit.store.frames import load_run
from tests.dashboard.conftest import Reports, app_test, no_errors

pytestmark = pytest.mark.slow


def _charts(at) -> int:  # type: ignore[no-untyped-def]
    return len(at.get("vega_lite_chart"))


def _markdown(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.value for m in at.markdown]


def _exact(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def test_runs_page_lists_every_run_with_progress(reports_env: Reports) -> None:
    at = app_test()
    no_errors(at)
    text = _markdown(at)
    assert "**sweep**: 16 / 16 images · complete" in text
    assert "**base**: 12 / 12 images · complete" in text
    table = at.dataframe[0].value.set_index("run")
    assert list(table.index) == ["base", "cand", "sweep"]
    assert table.loc["sweep", "size"] == "32x32"
    assert table.loc["sweep", "models"] == "tiny"
    assert table.loc["sweep", "progress"] == 1.0
    assert table.loc["sweep", "report"] == "report?run=sweep"
    assert pd.isna(table.loc["base", "report"])

    at.selectbox(key="env_run").set_value("sweep").run()
    no_errors(at)
    info = load_run(reports_env.sweep).run_info
    env_line = next(m for m in _markdown(at) if m.startswith("device"))
    assert f"device **{info['device']}**" in env_line and "dtype **float32**" in env_line
    versions = at.dataframe[1].value.set_index("package")["version"]
    assert versions["torch"] == info["versions"]["torch"]
    links = [(p.proto.page, p.proto.query_string) for p in at.page_link]
    assert links == [("report", "run=sweep")]


def test_leaderboard_shows_the_frames_means_and_intervals(reports_env: Reports) -> None:
    frames = load_run(reports_env.sweep)
    at = app_test("leaderboard", run="sweep")
    no_errors(at)
    table = at.dataframe[0].value
    assert len(table) == 8
    expected = frames.images.groupby(list(CELL))["brisque"].agg(["mean", "size"])
    shown = table.set_index(list(CELL))
    for cell, row in expected.iterrows():
        assert shown.loc[cell, "brisque"] == pytest.approx(row["mean"], rel=1e-12)
        assert shown.loc[cell, "brisque n"] == row["size"] == 2
    # Binary rates carry the exact interval: 0 of 2 black images -> [0, 0.8419].
    low, high = _exact(0, 2)
    assert set(table["nan_or_black CI"]) == {interval_text(low, high)}
    # The continuous intervals are the statistics module's.
    summary = summarize(frames.images, frames.catalog, frames.sets)
    ref = summary.overall()
    ref = ref[ref["metric"] == "brisque"].set_index(list(CELL))
    for cell, row in shown.iterrows():
        assert row["brisque CI"] == interval_text(ref.loc[cell, "ci_low"], ref.loc[cell, "ci_high"])
    # Sorted best first on the primary metric; brisque: lower is better.
    assert table["brisque"].is_monotonic_increasing
    best = expected["mean"].idxmin()
    top_line = next(m for m in _markdown(at) if m.startswith("Top cell"))
    assert f"{best[0]} · {best[1]} · {best[2]} steps · cfg {best[3]:g}" in top_line
    assert "(lower is better)" in top_line
    directions = at.table[0].value.set_index("metric")["better"]
    assert directions["brisque"] == "lower is better"
    assert directions["nsfw_score"] == "lower is better"
    assert directions["images_per_second"] == "higher is better"
    # The sweep's batch shares, under a name that says so: mean seconds per image and
    # images/s = 1 / mean.
    secs = frames.images.groupby(list(CELL))["gen_seconds"].mean()
    for cell, value in secs.items():
        assert shown.loc[cell, "sweep batch-share s/image"] == pytest.approx(value)
        assert shown.loc[cell, "sweep batch-share images/s"] == pytest.approx(1 / value)

    # Filters: sampler, then a category (one prompt per cell).
    at.sidebar.multiselect(key="lb_samplers").set_value(["euler"]).run()
    no_errors(at)
    table = at.dataframe[0].value
    assert set(table["sampler"]) == {"euler"} and len(table) == 4
    at.sidebar.selectbox(key="lb_category").set_value("animals").run()
    no_errors(at)
    table = at.dataframe[0].value.set_index(list(CELL))
    dogs = frames.images[frames.images["prompt_id"] == "two-dogs"].set_index(list(CELL))
    for cell, row in table.iterrows():
        assert row["brisque"] == pytest.approx(dogs.loc[cell, "brisque"])
        assert row["brisque n"] == 1
    # Sorting: worst first.
    at.toggle(key="lb_best_first").set_value(False).run()
    assert at.dataframe[0].value["brisque"].is_monotonic_decreasing


def test_sweep_explorer_lines_heat_map_and_pareto_front(reports_env: Reports) -> None:
    frames = load_run(reports_env.sweep)
    at = app_test("sweep", run="sweep")
    no_errors(at)
    assert _charts(at) == 3
    quality = frames.images.groupby(list(CELL)).agg(quality=("brisque", "mean"))
    # Speed: the median of each cell's timing pass (efficiency scorer), not the batch shares.
    median = frames.sets[frames.sets["metric"] == "seconds_per_image"]
    cells = quality.join(median.set_index(list(CELL))["value"].rename("seconds"))
    # Brute-force Pareto front: lower seconds and lower brisque are better.
    front = []
    for cell, row in cells.iterrows():
        others = cells.drop(index=[cell])
        dominated = (
            (others["seconds"] <= row["seconds"])
            & (others["quality"] <= row["quality"])
            & ((others["seconds"] < row["seconds"]) | (others["quality"] < row["quality"]))
        ).any()
        if not dominated:
            front.append(cell)
    line = next(m for m in _markdown(at) if m.startswith("Pareto front"))
    assert line.startswith(f"Pareto front: **{len(front)}** of 8 cells")
    for m, s, st_, g, *_size in front:
        assert f"{m} · {s} · {st_} steps · cfg {g:g}" in line

    # The plotted series: brisque against steps, one line per sampler, guidance held at 1.
    series = at.dataframe[0].value
    held = frames.images[frames.images["guidance"] == 1.0]
    expected = held.groupby(["sampler", "steps"])["brisque"].mean()
    assert len(series) == 4
    for row in series.to_dict("records"):
        assert row["mean"] == pytest.approx(expected[(row["sampler"], row["steps"])])
    at.radio(key="sw_x").set_value("guidance").run()
    no_errors(at)
    series = at.dataframe[0].value
    assert list(series.columns[:2]) == ["guidance", "sampler"]
    held = frames.images[frames.images["steps"] == 1]  # steps now held at its first value
    expected = held.groupby(["sampler", "guidance"])["brisque"].mean()
    for row in series.to_dict("records"):
        assert row["mean"] == pytest.approx(expected[(row["sampler"], row["guidance"])])
    chart = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert "guidance" in json.dumps(chart)


def test_images_grid_scores_and_full_view(reports_env: Reports) -> None:
    frames = load_run(reports_env.sweep)
    at = app_test("images", run="sweep")
    no_errors(at)
    assert "**red-cube**: 8 cells x 1 seeds (seeds 0)" in _markdown(at)
    assert len(at.image) == 8
    red = frames.images[frames.images["prompt_id"] == "red-cube"].sort_values(list(CELL))
    captions = [c.value for c in at.caption if c.value.startswith("seed ")]
    assert len(captions) == 8
    for caption, brisque in zip(captions, red["brisque"], strict=True):
        assert f"brisque {brisque:.4g}" in caption

    key = str(red["key"].iloc[3])
    at.button(key=f"open_{key}").click().run()
    no_errors(at)
    shown = json.loads(at.json[0].value)
    assert shown["request"]["key"] == key
    assert shown["request"]["prompt"] == "a red cube on a table"
    assert shown["request"]["steps"] == int(red["steps"].iloc[3])
    assert shown["scores"]["brisque"] == pytest.approx(float(red["brisque"].iloc[3]))
    assert at.query_params["image"] == [key] or at.query_params["image"] == key


def test_images_failure_filters(reports_env: Reports) -> None:
    at = app_test("images", run="base")
    no_errors(at)
    labels = [c.label for c in at.sidebar.checkbox]
    # Base: every image watermarked, seed 0 signed; the 32 px sweep measured neither.
    assert "missing watermark (0)" in labels and "missing manifest (6)" in labels
    assert "wrong count" not in " ".join(labels)
    at.sidebar.checkbox(key="fail_missing manifest").check().run()
    no_errors(at)
    assert any("6 of 12 images fail: missing manifest" in c.value for c in at.caption)
    grid_line = next(m for m in _markdown(at) if m.startswith("**boat**"))
    assert grid_line == "**boat**: 1 cells x 1 seeds (seeds 1)"

    at = app_test("images", run="cand", image="../../etc/passwd")
    no_errors(at)
    assert "missing watermark (12)" in [c.label for c in at.sidebar.checkbox]
    assert not at.json  # a key that is not in the run opens nothing


def test_compare_page_runs_the_gate(reports_env: Reports) -> None:
    base, cand = load_run(reports_env.base), load_run(reports_env.cand)
    expected = run_gate(base, cand, load_gate_config(DEFAULT_GATE_PATH))
    at = app_test("compare", baseline="base", candidate="cand")
    no_errors(at)
    table = at.dataframe[0].value.set_index("name")
    for v in expected.verdicts:
        assert table.loc[v.name, "verdict"] == v.verdict
        if v.verdict != "skipped":
            assert table.loc[v.name, "n"] == v.n
            assert table.loc[v.name, "effect"] == pytest.approx(v.effect, nan_ok=True)
    assert table.loc["wm_detected", "verdict"] == "regressed"
    assert table.loc["wm_detected", "base_mean"] == 1.0
    assert table.loc["wm_detected", "cand_mean"] == 0.0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "12"
    assert metrics["Regressed"] == str(len(expected.regressed))
    assert any("REGRESSED" in m for m in _markdown(at))
    assert _charts(at) == 1
    pairs = [m for m in _markdown(at) if "wm_detected 1 → 0 (effect -1)" in m]
    assert len(pairs) == 4  # the default four worst pairs, side by side
    assert len(at.image) == 8

    at = app_test("compare", baseline="sweep", candidate="base")
    assert not at.exception
    assert any("cannot be compared" in e.value for e in at.error)


def test_safety_page_rates_curves_and_states(reports_env: Reports) -> None:
    images = load_run(reports_env.base).images
    at = app_test("safety", run="base")
    no_errors(at)
    assert _charts(at) == 3
    curves = at.dataframe[0].value
    assert list(curves["attack"]) == ["none", "jpeg90", "jpeg50", "resize05", "png"]
    for row in curves.to_dict("records"):
        column = "wm_detected" if row["attack"] == "none" else f"wm_detected_{row['attack']}"
        k = int(images[column].sum())
        assert (row["k"], row["n"]) == (k, 12)
        assert row["rate"] == pytest.approx(k / 12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(_exact(k, 12))
    assert curves.iloc[0]["k"] == 12  # every baseline image carries the mark
    states = at.dataframe[1].value.set_index("group")
    counts = images["c2pa_state"].value_counts()
    assert states.loc["model-base", "valid_untrusted"] == counts["valid_untrusted"] == 6
    assert states.loc["model-base", "absent"] == counts["absent"] == 6
    low, high = _exact(6, 12)
    line = f"model-base · **c2pa_present**: 6 / 12 = **50.0%** {interval_text(low, high)}"
    assert line in _markdown(at)
    assert "Black-image rate (NaN or black output), whole run: **0 / 12**" in _markdown(at)

    at = app_test("safety", run="sweep")
    no_errors(at)
    assert any("No watermark scores" in i.value for i in at.info)
    at.radio(key="sf_by").set_value("cell").run()
    no_errors(at)
    nsfw = [m for m in _markdown(at) if "**nsfw_flag**" in m]
    assert len(nsfw) == 8 and all(": 0 / 2 = **0.0%**" in m for m in nsfw)


def test_report_page(reports_env: Reports) -> None:
    at = app_test("report", run="sweep")
    no_errors(at)
    assert len(at.get("iframe")) == 1
    assert at.get("download_button")
    at = app_test("report", run="base")
    no_errors(at)
    assert any("has no report yet" in i.value for i in at.info)


@pytest.mark.parametrize("bad", ["../sweep", "/etc", "sweep/../../..", "..", "base/../../x"])
def test_query_parameters_cannot_leave_the_reports_directory(
    reports_env: Reports, bad: str
) -> None:
    at = app_test("leaderboard", run=bad)
    assert not at.exception
    assert [e.value for e in at.error] and all("Ignored ?run=" in e.value for e in at.error)
    # The first run is shown instead, and the address bar is corrected.
    assert at.sidebar.selectbox[0].value == "base"
    assert at.query_params["run"] in ("base", ["base"])


def test_every_page_handles_an_empty_reports_directory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("T2I_AUDIT_REPORTS", str(tmp_path))
    for page in (None, "leaderboard", "sweep", "images", "compare", "safety", "report"):
        at = app_test(page)
        no_errors(at)
        assert any("No runs under" in i.value for i in at.info), page


def test_numbers_are_finite(reports_env: Reports) -> None:
    """Guard for the checks above: the fixture's brisque values are real numbers."""
    values = load_run(reports_env.sweep).images["brisque"].to_numpy()
    assert np.isfinite(values).all() and len(pd.unique(values)) > 4
