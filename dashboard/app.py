"""`streamlit run dashboard/app.py` from a checkout: runs the app that ships in the package."""

import runpy

from audit.dashboard.navigation import app_file

runpy.run_path(str(app_file()), run_name="__main__")
