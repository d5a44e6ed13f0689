"""A sweep running in another process: the Runs page shows its progress advance, and the
other pages read the growing run without errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.store.frames import run_progress
from tests.dashboard.conftest import Reports, app_test, no_errors

pytestmark = pytest.mark.slow

SPEC = """\
name: live
models:
  - id: tiny
    source: builtin:tiny-random-sd
    dtype: float32
samplers: [ddim]
steps: [1]
guidance: [1.0]
seeds: [{seeds}]
suites: [prompts.txt]
size: 32
batch_size: 1
"""
TOTAL = 60


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _shown_done(at) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    for m in at.markdown:
        found = re.fullmatch(r"\*\*live\*\*: (\d+) / (\d+) images · (\w+)", m.value)
        if found:
            return int(found[1]), int(found[2]), found[3]
    raise AssertionError("the Runs page does not list the live run")


def test_runs_page_follows_a_running_sweep(
    reports: Reports, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `reports` built the tiny model into the session's cache, which the child process reuses.
    (tmp_path / "prompts.txt").write_text("a small house\n")
    spec = tmp_path / "live.yaml"
    spec.write_text(SPEC.format(seeds=", ".join(str(s) for s in range(TOTAL))))
    root = tmp_path / "reports"
    monkeypatch.setenv("T2I_AUDIT_REPORTS", str(root))
    run = root / "live"
    cmd = [sys.executable, "-m", "audit", "run", str(spec), "--out", str(root)]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "--no-score", "--no-report"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: run_progress(run)[1] >= 1, 180, "the first image")
        at = app_test()
        no_errors(at)
        first, total, status = _shown_done(at)
        assert total == TOTAL and status == "running" and 1 <= first < TOTAL
        assert at.toggle(key="live").value  # live refresh is on while a sweep runs
        assert any(p.proto.text.startswith("live: generating") for p in at.get("progress"))

        _wait_for(lambda: run_progress(run)[1] > first, 120, "more images")
        at.run()  # what the page's 3 s refresh does
        no_errors(at)
        second, _, _ = _shown_done(at)
        assert second > first

        for page in ("leaderboard", "sweep", "images", "safety"):
            no_errors(app_test(page, run="live"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
