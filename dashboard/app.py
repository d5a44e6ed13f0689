"""t2i-audit dashboard: `streamlit run dashboard/app.py` (reports directory from the
T2I_AUDIT_REPORTS environment variable, default reports/) or `t2i-audit dashboard DIR`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="t2i-audit", layout="wide")

PAGES = [
    st.Page(HERE / "views/runs.py", title="Runs", url_path="runs", default=True),
    st.Page(HERE / "views/leaderboard.py", title="Leaderboard", url_path="leaderboard"),
    st.Page(HERE / "views/sweep.py", title="Sweep explorer", url_path="sweep"),
    st.Page(HERE / "views/images.py", title="Images", url_path="images"),
    st.Page(HERE / "views/compare.py", title="Compare", url_path="compare"),
    st.Page(HERE / "views/safety.py", title="Safety and provenance", url_path="safety"),
    st.Page(HERE / "views/report.py", title="Report", url_path="report"),
]

st.navigation(PAGES).run()
