"""The Streamlit dashboard: the app (`app.py`), its pages (`views/*_page.py`, listed in
`navigation`), and the streamlit-free logic they show: loading and caching runs (through
`audit.store.frames` only), path safety, tables, charts; `server` serves the app and `health`
checks it without a browser.

Nothing here imports streamlit except `ui`, `app.py` and the pages.
"""

from __future__ import annotations

from audit.dashboard.server import launch

__all__ = ["launch"]
