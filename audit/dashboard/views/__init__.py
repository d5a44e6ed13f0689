"""The dashboard's pages: Streamlit scripts that `audit/dashboard/app.py` runs, one per page.

Not modules to import: each runs top to bottom on every visit. They only lay out what the
streamlit-free modules of `audit.dashboard` compute (`safety_page.py` shows `safety.py`'s
tables), so the logic stays testable without Streamlit. The page list is in
`audit.dashboard.navigation`.
"""
