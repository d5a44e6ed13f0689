"""Sweep explorer: a metric against steps or guidance, a steps x guidance heat map, and
quality against the timing pass's median seconds per image with the Pareto front."""

from __future__ import annotations

import streamlit as st

from audit.dashboard import charts, data, tables, ui
from audit.stats.columns import CELL

name, run_dir = ui.pick_run()
ui.page_header("Sweep explorer", "How a metric moves with steps and guidance, and what it costs.")
frames = ui.load(run_dir)
ui.show_run_caption(name, frames)
summary = data.summary(run_dir)
metrics = tables.metric_names(summary)
if not metrics:
    ui.stop_with("No scores in this run yet: `t2i-audit score RUN` adds them.")
dirs = tables.directions(summary)
primary = tables.primary_metric(summary)
cells = summary.efficiency

st.subheader("Metric against a sweep axis")
c1, c2, c3 = st.columns(3)
metric = c1.selectbox(
    "Metric", metrics, index=metrics.index(primary) if primary in metrics else 0, key="sw_metric"
)
x = c2.radio("Against", ["steps", "guidance"], horizontal=True, key="sw_x")
color = c3.radio("One line per", ["sampler", "model"], horizontal=True, key="sw_color")
fixed = {}
held = [c for c in CELL if c not in (x, color)]
columns = st.columns(len(held))
for column, slot in zip(held, columns, strict=True):
    values = sorted(cells[column].unique().tolist())
    fixed[column] = slot.selectbox(f"{column} held at", values, key=f"sw_fix_{column}")
series = tables.sweep_series(summary, metric, x, color, fixed)
held_text = ", ".join(f"{k} = {v}" for k, v in fixed.items())
if series.empty:
    st.info(f"No {metric} values with {held_text}.")
else:
    st.altair_chart(charts.sweep_lines(series, x, color, metric, dirs.get(metric, "none")))
    st.caption(f"{metric} against {x}, one line per {color}, {held_text}; bands are 95% intervals.")
    with st.expander("Values"):
        st.dataframe(series, hide_index=True)

st.subheader("Steps x guidance")
h1, h2, h3 = st.columns(3)
heat_metric = h1.selectbox("Metric", metrics, index=metrics.index(metric), key="sw_heat_metric")
model = h2.selectbox("Model", sorted(cells["model"].astype(str).unique()), key="sw_heat_model")
sampler = h3.selectbox(
    "Sampler", sorted(cells["sampler"].astype(str).unique()), key="sw_heat_sampler"
)
grid = tables.heat_map(summary, heat_metric, model, sampler)
if grid.empty:
    st.info(f"No {heat_metric} values for {model} with {sampler}.")
else:
    st.altair_chart(charts.heat_map(grid, heat_metric, dirs.get(heat_metric, "none")))
    st.caption(f"{heat_metric} for {model} · {sampler} ({len(grid)} cells).")

st.subheader("Quality against speed")
quality = st.selectbox(
    "Quality metric",
    metrics,
    index=metrics.index(primary) if primary in metrics else 0,
    key="sw_quality",
)
points = tables.pareto(summary, quality)
if points.empty:
    st.info(
        "No cell has both a timing pass (the efficiency scorer's seconds_per_image) and this "
        "metric. Speed comes from the timing pass of `t2i-audit run` (spec `timing:`)."
    )
else:
    st.altair_chart(charts.pareto(points, quality, dirs.get(quality, "higher")))
    st.caption(
        "Median seconds per image of each cell's timing pass; the bars run from its fastest "
        "to its slowest timed batch."
    )
    front = points[points["on_front"]]
    st.markdown(
        f"Pareto front: **{len(front)}** of {len(points)} cells — "
        + "; ".join(
            f"{r['cell']} ({tables.fmt(r['seconds'])} s, spread {tables.fmt(100 * r['spread'])}%, "
            f"{quality} {tables.fmt(r['quality'])})"
            for r in front.to_dict("records")
        )
    )
