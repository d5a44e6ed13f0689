"""`t2i-audit dashboard`: start the Streamlit app on a reports directory.

The command becomes `python -m streamlit run dashboard/app.py` (exec on POSIX, so stopping
the command stops the server and nothing is left behind), bound to 127.0.0.1 unless told
otherwise, with usage statistics off and no browser opened.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from audit.dashboard.paths import REPORTS_ENV, reports_root
from audit.errors import UserError

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"


def app_path() -> Path:
    if not APP.is_file():
        raise UserError(
            "the dashboard app is not installed next to this package",
            file=APP,
            fix="run from a source checkout (pip install -e .), or "
            "`streamlit run path/to/dashboard/app.py`",
        )
    return APP


def command(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> list[str]:
    """The `streamlit run` command line the dashboard starts."""
    if not 1 <= port <= 65535:
        raise UserError(f"port {port} is out of range", field="--port", fix="use 1-65535")
    if not host.strip():
        raise UserError("empty host", field="--host", fix="e.g. --host 127.0.0.1")
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip


def environment(reports_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    root = reports_root(reports_dir)
    if not root.is_dir():
        raise UserError(
            "reports directory not found",
            file=root,
            fix="give the folder `t2i-audit run --out` wrote to (default reports/)",
        )
    return {**os.environ, REPORTS_ENV: str(root)}


def launch(
    reports_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
) -> int:
    """Serve the dashboard until interrupted. Replaces this process where the OS allows."""
    argv = command(port, host)
    env = environment(reports_dir)
    print(f"dashboard for {env[REPORTS_ENV]} on http://{host}:{port}", flush=True)
    if os.name == "posix":
        os.execve(sys.executable, argv, env)  # replaces this process: returns only in tests
        return 0
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 0
