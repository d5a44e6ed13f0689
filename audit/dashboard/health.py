"""Whether the dashboard works in this installation, checked without a browser.

Finds the app and its page scripts where the package installed them, then runs every page
once through Streamlit's AppTest (headless, in this process) on a reports directory. A file
left out of the wheel, a library a page imports that is missing, or a page that raises shows
up here as a finding instead of as a blank page in someone's browser. Returns findings; the
caller prints them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from audit.dashboard.navigation import PAGES, app_file, missing_files
from audit.dashboard.paths import find_runs, reports_in_environment, reports_root

PAGE_TIMEOUT_S = 120.0  # a cold first page imports pandas, altair and scipy


@dataclass(frozen=True)
class Finding:
    what: str  # "files", "streamlit", "page runs", ...
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    app: Path
    reports: Path
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


def check(reports_dir: str | os.PathLike[str] | None = None) -> Health:
    """Find the app's files, then run each page on `reports_dir` (default: as the dashboard
    picks it). A missing or empty directory is fine: every page then says there are no runs."""
    root = reports_root(reports_dir)
    findings = [_files()]
    if findings[0].ok:
        findings += _pages(root)
    return Health(app_file(), root, tuple(findings))


def _files() -> Finding:
    missing = missing_files()
    if missing:
        return Finding("files", False, "missing: " + ", ".join(str(p) for p in missing))
    return Finding("files", True, f"app and {len(PAGES)} pages under {app_file().parent}")


def _pages(root: Path) -> list[Finding]:
    try:
        from streamlit.testing.v1 import AppTest
    except ImportError as exc:
        return [Finding("streamlit", False, f"cannot import streamlit's AppTest: {exc}")]
    runs = find_runs(root)
    where = f"{len(runs)} run(s) under {root}" if runs else f"no runs under {root}"
    out: list[Finding] = []
    with reports_in_environment(root), _streamlit_warnings_off():
        at = AppTest.from_file(str(app_file()), default_timeout=PAGE_TIMEOUT_S)
        for page in PAGES:
            try:
                if not out:
                    at.run()  # the first run registers the pages switch_page looks up
                at.switch_page(page.script)
                at.run()
            except Exception as exc:  # a timeout, or an app that cannot even start
                out.append(Finding(f"page {page.url}", False, f"{type(exc).__name__}: {exc}"))
                continue
            # Exceptions are the app's fault; st.error lines are about the data (a run that
            # cannot be compared, one still being set up) and do not fail the check.
            raised = [str(e.value).splitlines()[0] for e in at.exception]
            if raised:
                out.append(Finding(f"page {page.url}", False, "; ".join(raised)))
            else:
                out.append(Finding(f"page {page.url}", True, f"rendered ({where})"))
    return out


CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextmanager
def _streamlit_warnings_off() -> Iterator[None]:
    """Streamlit warns once per page that AppTest's main thread has no script context: that
    is how AppTest works, not a finding. Errors and their tracebacks still reach stderr."""
    log = logging.getLogger(CONTEXT_LOGGER)
    log.addFilter(_errors_only)
    try:
        yield
    finally:
        log.removeFilter(_errors_only)
