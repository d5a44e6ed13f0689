"""Where the tests find headless Chromium (Debian's package; `.ci/run` installs it)."""

from __future__ import annotations

import shutil

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
