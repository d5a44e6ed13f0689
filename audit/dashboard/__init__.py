"""The Streamlit dashboard's testable side: loading and caching runs (through
`audit.store.frames` only), path safety, the tables and charts its pages show, and `launch`.

The pages themselves live in the top-level `dashboard/` folder (`dashboard/app.py`).
Nothing here imports streamlit except `ui`, which only the pages use.
"""

from __future__ import annotations

from audit.dashboard.server import launch

__all__ = ["launch"]
