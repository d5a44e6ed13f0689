"""The HTML report in a real browser: it loads, renders and logs nothing to the console."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from audit.report import write_report
from tests.browser import CHROMIUM
from tests.synthetic import synthetic_frames

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)"
    ),
]


def _load(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The rendered DOM and the console lines Chromium logged while loading `page`."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


def test_report_loads_without_console_messages(tmp_path: Path) -> None:
    frames = synthetic_frames(image_dir=tmp_path / "images", n_prompts=6, timing=True)
    page = write_report(frames, "html", tmp_path / "report.html")
    dom, console = _load(page, tmp_path / "profile")
    assert console == []
    assert "<h1>t2i-audit report</h1>" in dom and "<svg" in dom
    assert dom.count('src="data:image/jpeg;base64,') >= 5

    # Control: the same check catches a page that tries to fetch something.
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        page.read_text().replace("</body>", '<img src="https://example.invalid/x.png"></body>')
    )
    _, console = _load(leaky, tmp_path / "profile2")
    assert any("Content Security Policy" in line for line in console)
