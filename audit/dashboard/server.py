"""Serve the packaged Streamlit app on a reports directory (`t2i-audit dashboard`).

`plan` checks the input and returns what would run (command line, environment, address);
`serve` runs it: `python -m streamlit run <installed app.py>`, exec'd on POSIX, so stopping
the command stops the server and nothing is left behind. Bound to 127.0.0.1 unless told
otherwise, with usage statistics off and no browser opened. Nothing here prints: the CLI
says where the dashboard is before it serves.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from audit.dashboard.navigation import app_file
from audit.dashboard.paths import REPORTS_ENV, reports_root
from audit.errors import UserError

DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"


def app_path() -> Path:
    """The installed app script; UserError if the package was installed without it."""
    app = app_file()
    if not app.is_file():
        raise UserError(
            "the dashboard app is missing from the installed package",
            file=app,
            fix="reinstall t2i-audit: its wheel carries audit/dashboard/app.py and views/",
        )
    return app


def command(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> list[str]:
    """The `streamlit run` command line the dashboard starts."""
    if not 1 <= port <= 65535:
        raise UserError(f"port {port} is out of range", field="port", fix="use 1-65535")
    if not host.strip():
        raise UserError("empty host", field="host", fix="give an address, e.g. 127.0.0.1")
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
            fix="give the folder the runs were written to (default reports/)",
        )
    return {**os.environ, REPORTS_ENV: str(root)}


@dataclass(frozen=True)
class Launch:
    """What `serve` will run: checked, not started."""

    argv: list[str]
    env: dict[str, str]
    reports: Path
    url: str


def plan(
    reports_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
) -> Launch:
    argv = command(port, host)
    env = environment(reports_dir)
    return Launch(argv, env, Path(env[REPORTS_ENV]), f"http://{host}:{port}")


def serve(launch: Launch) -> int:
    """Serve the dashboard until interrupted. Replaces this process where the OS allows."""
    if os.name == "posix":
        os.execve(sys.executable, launch.argv, launch.env)  # returns only in tests
        return 0
    try:
        return subprocess.call(launch.argv, env=launch.env)
    except KeyboardInterrupt:
        return 0


def launch(
    reports_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
) -> int:
    """`serve(plan(...))`, for callers with nothing to say before the server starts."""
    return serve(plan(reports_dir, port=port, host=host))
