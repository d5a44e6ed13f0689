"""Report: a run's self-contained report.html, shown in the page and offered as a download."""

from __future__ import annotations

import streamlit as st

from audit.dashboard import ui
from audit.dashboard.paths import safe_file

name, run_dir = ui.pick_run()
ui.page_header("Report", f"The report written for run {name}.")
report = safe_file(run_dir, "report.html")
if report is None:
    ui.stop_with(f"Run {name} has no report yet: `t2i-audit report {run_dir}` writes one.")
assert report is not None
html = report.read_text(encoding="utf-8")
st.download_button("Download report.html", html, file_name=f"{name.replace('/', '-')}.html")
# The report carries a Content-Security-Policy that allows no scripts and no fetches.
st.iframe(html, height=1200)
