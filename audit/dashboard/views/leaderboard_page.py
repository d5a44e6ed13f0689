"""Leaderboard: cells x metrics with 95% intervals, filtered and sorted; each metric's direction."""

from __future__ import annotations

import streamlit as st

from audit.dashboard import data, tables, ui
from audit.stats.aggregate import ALL
from audit.stats.columns import CELL

name, run_dir = ui.pick_run()
ui.page_header("Leaderboard", "Mean of every metric per cell with its 95% interval.")
frames = ui.load(run_dir)
ui.show_run_caption(name, frames)
if frames.images.empty:
    ui.stop_with("This run has no images yet.")

all_suites = data.suites_of(frames.images)
suites = ui.multiselect_filter("Suite", all_suites, "lb_suites")
chosen_suites = () if set(suites) == set(all_suites) else tuple(sorted(suites))
category = st.sidebar.selectbox(
    "Category", [ALL, *data.categories_of(frames.images)], key="lb_category"
)
summary = data.summary(run_dir, chosen_suites, by_category=category != ALL)
if summary.stats.empty:
    ui.stop_with("No scores in this run yet: `t2i-audit score RUN` adds them.")

models = ui.multiselect_filter(
    "Model", sorted(summary.efficiency["model"].astype(str).unique()), "lb_models"
)
samplers = ui.multiselect_filter(
    "Sampler", sorted(summary.efficiency["sampler"].astype(str).unique()), "lb_samplers"
)
available = tables.metric_names(summary, category)
metrics = st.multiselect(
    "Metrics", available, default=tables.leaderboard_default(summary, category), key="lb_metrics"
)
primary = tables.primary_metric(summary)
sort_options = [*metrics, *CELL]
left, right = st.columns([3, 1])
sort_by = left.selectbox(
    "Sort by",
    sort_options,
    index=sort_options.index(primary) if primary in sort_options else 0,
    key="lb_sort",
)
best_first = right.toggle("Best first", value=True, key="lb_best_first")

table = tables.leaderboard(
    summary,
    category=category,
    models=models,
    samplers=samplers,
    metrics=metrics,
    sort_by=sort_by,
    best_first=best_first,
)
dirs = tables.directions(summary)
config = {
    m: st.column_config.NumberColumn(
        f"{m} {tables.ARROW.get(dirs.get(m, ''), '')}".strip(),
        help=tables.DIRECTION_TEXT.get(dirs.get(m, ""), "no direction"),
        format="%.4g",
    )
    for m in metrics
}
config |= {v: st.column_config.NumberColumn(v, format="%.4g") for v in tables.EFFICIENCY.values()}
st.dataframe(table, hide_index=True, column_config=config)

if len(table) and sort_by in metrics:
    top = table.iloc[0]
    better = tables.DIRECTION_TEXT.get(dirs.get(sort_by, ""), "no direction")
    st.markdown(
        f"Top cell by **{sort_by}** ({better}): {tables.cell_label(top)} = "
        f"**{tables.fmt(float(top[sort_by]))}** {top[f'{sort_by} CI']} "
        f"(n = {tables.fmt(top[f'{sort_by} n'])})"
    )
st.subheader("Metric directions")
st.table(tables.direction_table(summary, metrics))
