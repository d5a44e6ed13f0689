"""The t2i-audit dashboard, a Streamlit app: `t2i-audit dashboard [REPORTS_DIR]` serves it.

A Streamlit script, not a module to import: Streamlit runs it on every visit. The reports
directory comes from $T2I_AUDIT_REPORTS (default reports/). The pages are the scripts in
`views/`, listed once in `audit.dashboard.navigation`.
"""

from __future__ import annotations

import streamlit as st

from audit.dashboard.navigation import DEFAULT_PAGE, PAGES, page_file

st.set_page_config(page_title="t2i-audit", layout="wide")

# Absolute script paths: the same pages work when a top-level shim is the main script.
navigation = [
    st.Page(page_file(p.url), title=p.title, url_path=p.url, default=p.url == DEFAULT_PAGE)
    for p in PAGES
]
st.navigation(navigation).run()
