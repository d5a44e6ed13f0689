"""Runs: every run under the reports directory, its spec, size, progress and environment."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from audit.dashboard import data, ui
from audit.dashboard.navigation import page_file
from audit.dashboard.paths import find_runs, resolve_run

ui.page_header("Runs", "Every run under the reports directory; a sweep still running updates live.")
root = ui.root()
names = find_runs(root)
if not names:
    ui.stop_with(
        f"No runs under {root}. Make one with `t2i-audit run SPEC --out {root}`, "
        "or point the dashboard at another folder: `t2i-audit dashboard DIR`."
    )

running = any(data.overview(n, resolve_run(root, n)).status == "running" for n in names)
live = st.toggle("Live progress (refresh every 3 s)", value=running, key="live")


@st.fragment(run_every=3.0 if live else None)
def run_table() -> None:
    # Listed again on each refresh, so a sweep started meanwhile appears.
    rows = [data.overview(n, resolve_run(root, n)) for n in find_runs(root)]
    table = pd.DataFrame(
        {
            "run": [r.name for r in rows],
            "spec": [r.spec for r in rows],
            "status": [r.status for r in rows],
            "progress": [r.fraction for r in rows],
            "done": [r.done for r in rows],
            "total": [r.total for r in rows],
            "models": [r.models for r in rows],
            "samplers": [r.samplers for r in rows],
            "steps": [r.steps for r in rows],
            "guidance": [r.guidance for r in rows],
            "size": [r.size for r in rows],
            "seeds": [r.seeds for r in rows],
            "scorers": [r.scorers for r in rows],
            "device": [r.device for r in rows],
            "dtype": [r.dtype for r in rows],
            "updated": [r.updated for r in rows],
            "report": [f"report?run={r.name}" if r.has_report else None for r in rows],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn(
                "progress", min_value=0.0, max_value=1.0, format="percent"
            ),
            "report": st.column_config.LinkColumn("report", display_text="open report"),
        },
    )
    for r in rows:
        st.markdown(f"**{r.name}**: {r.done} / {r.total} images · {r.status}")
        if r.status == "running":
            st.progress(r.fraction, text=f"{r.name}: generating, {r.done} of {r.total} images")


run_table()

st.subheader("Environment")
picked = st.selectbox("Run", names, key="env_run")
run_dir = resolve_run(root, picked)
info = data.environment(run_dir)
over = data.overview(picked, run_dir)
st.markdown(
    f"device **{info.get('device', '?')}** · dtype **{over.dtype or '?'}** · "
    f"platform {info.get('platform', '?')} · git {over.git or 'n/a'} · created {over.created}"
)
versions = info.get("versions") or {}
if isinstance(versions, dict) and versions:
    st.dataframe(
        pd.DataFrame({"package": list(versions), "version": [str(v) for v in versions.values()]}),
        hide_index=True,
    )
with st.expander("Spec and command line"):
    st.json({"spec": info.get("spec"), "argv": info.get("argv"), "scoring": info.get("scoring")})
if over.has_report:
    st.page_link(page_file("report"), label=f"Report of {picked}", query_params={"run": picked})
else:
    st.caption(f"No report yet: `t2i-audit report {run_dir}` writes one.")
