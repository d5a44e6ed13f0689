"""The dashboard in a real browser: `t2i-audit dashboard` serves it on a free local port and
headless Chromium loads every page (text checked, screenshots saved)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.cdp import CHROMIUM, Browser
from tests.dashboard.conftest import Reports

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install -y chromium; .ci/run does this)",
    ),
]

IMAGES_LOADED_JS = (
    "Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img'))"
    ".filter(i => i.complete && i.naturalWidth > 0).length"
)
CHARTS_JS = "document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture(scope="module")
def server(reports: Reports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    env.pop("T2I_AUDIT_REPORTS", None)  # the command-line argument must be what counts
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "audit", "dashboard", str(reports.root), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(f"{url}/_stcore/health") == "ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


PAGES = [
    ("runs", "/", ["sweep: 16 / 16 images · complete", "base: 12 / 12 images · complete"]),
    ("leaderboard", "/leaderboard?run=sweep", ["Top cell by brisque (lower is better)"]),
    ("sweep", "/sweep?run=sweep", ["Pareto front:", "Steps x guidance"]),
    ("images", "/images?run=sweep", ["red-cube: 8 cells x 1 seeds (seeds 0)"]),
    ("compare", "/compare?baseline=base&candidate=cand", ["REGRESSED (the gate exits 1)"]),
    ("safety", "/safety?run=base", ["whole run: 0 / 12", "c2pa_present: 6 / 12 = 50.0%"]),
    ("report", "/report?run=sweep", ["Download report.html"]),
]


def test_health_and_bound_to_localhost(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")
    assert _get(f"{server}/_stcore/health") == "ok"


def test_every_page_renders(server: str, browser: Browser, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for name, path, expect in PAGES:
        text = browser.load(server + path, expect)
        assert browser.exceptions() == 0, f"{name}: {text[:1500]}"
        assert "Traceback" not in text, name
        shot = browser.screenshot(shots / f"{name}.png")
        assert shot.stat().st_size > 10_000, name  # a rendered page, not a blank one
        if name == "images":
            assert browser.evaluate(IMAGES_LOADED_JS) == 8  # served and decoded
        if name == "sweep":
            assert browser.evaluate(CHARTS_JS) == 3
    assert browser.console == []
    assert sorted(p.name for p in shots.iterdir()) == sorted(f"{n}.png" for n, _, _ in PAGES)


def test_a_path_in_the_address_bar_cannot_leave_the_reports_directory(
    server: str, browser: Browser
) -> None:
    text = browser.load(server + "/leaderboard?run=..%2F..%2Fetc", ["Ignored ?run="])
    assert "Top cell by" in text  # the first run is shown instead
    assert browser.exceptions() == 0
