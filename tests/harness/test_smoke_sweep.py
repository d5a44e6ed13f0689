"""The issue's smoke sweep: counts, keys, resume, crash safety and verify."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.cli import main
from tests.conftest import write_smoke_spec


def _count(run_dir: Path, sql: str) -> int:
    conn = sqlite3.connect(run_dir / "ledger.sqlite")
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_smoke_sweep_makes_48_distinct_images(smoke_run: Path) -> None:
    assert _count(smoke_run, "SELECT COUNT(*) FROM images") == 48
    assert _count(smoke_run, "SELECT COUNT(DISTINCT key) FROM requests") == 48
    files = list((smoke_run / "images").rglob("*.png"))
    assert len(files) == 48
    assert main(["verify", str(smoke_run)]) == 0


def test_rerun_of_finished_sweep_loads_no_model(smoke_run: Path, tmp_path: Path) -> None:
    # A subprocess tells us which modules the no-op path imported and how long it took.
    spec = smoke_run.parent.parent / "smoke.yaml"
    code = (
        "import sys, time; t = time.perf_counter(); from audit.cli import main; "
        f"rc = main(['run', {str(spec)!r}, '--out', {str(smoke_run.parent)!r}, '--quiet']); "
        "print('RC', rc, 'TORCH', 'torch' in sys.modules, 'SECONDS', time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    ).stdout
    fields = out.split()
    assert fields[fields.index("RC") + 1] == "0"
    assert fields[fields.index("TORCH") + 1] == "False", "the no-op path must not import torch"
    assert "0 generated, 48 already there" in out


def test_deleted_image_fails_verify_and_is_regenerated(smoke_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "out" / "smoke"
    shutil.copytree(smoke_run, run)
    spec = write_smoke_spec(tmp_path)
    victim = sorted((run / "images").rglob("*.png"))[5]
    original = victim.read_bytes()
    victim.unlink()
    assert main(["verify", str(run)]) == 1
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert main(["verify", str(run)]) == 0
    # Same request, same image (it was batched with others before, alone now).
    a = np.asarray(Image.open(io.BytesIO(original)), dtype=np.int16)
    b = np.asarray(Image.open(victim), dtype=np.int16)
    assert np.abs(a - b).max() <= 2
    assert _count(run, "SELECT COUNT(*) FROM images") == 48


def test_corrupted_image_fails_verify(smoke_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    victim = sorted((run / "images").rglob("*.png"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert main(["verify", str(run)]) == 1


@pytest.mark.slow
def test_kill_9_mid_sweep_then_resume(tmp_path: Path) -> None:
    spec = write_smoke_spec(tmp_path)
    out = tmp_path / "out"
    run = out / "smoke"
    cmd = [sys.executable, "-m", "audit", "run", str(spec), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:
            if (run / "ledger.sqlite").exists() and _count(run, "SELECT COUNT(*) FROM images") >= 6:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done_before = _count(run, "SELECT COUNT(*) FROM images")
    assert 6 <= done_before < 48, "the kill must land mid-sweep"
    subprocess.run(cmd, env=os.environ, check=True, capture_output=True)
    assert _count(run, "SELECT COUNT(*) FROM images") == 48
    assert _count(run, "SELECT COUNT(DISTINCT path) FROM images") == 48
    assert len(list((run / "images").rglob("*.png"))) == 48  # no stray or duplicate files
    assert main(["verify", str(run)]) == 0
