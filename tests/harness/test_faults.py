"""Fault injection: kill -9 at 20 random points across generation and scoring, each followed
by a rerun; two writers on one run; a file size limit hit while writing.

After every rerun: 0 images lost, 0 duplicated, no temporary file, `verify` clean, and the
same numbers (image bytes, every score) as a run that was never interrupted. The commands
run in forked children of one warm process (`tests/harness/fault_driver.py`), so the kill is
a real SIGKILL of a real process, at a point the hook `audit.faults` names.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audit.store.verify import verify_run

ROOT = Path(__file__).resolve().parents[2]
SPEC = """\
name: faults
models:
  - id: toy
    source: builtin:toy-shapes
    dtype: float32
samplers: [ddim]
steps: [2]
guidance: [1.0, 3.0]
seeds: [0]
suites: [prompts.txt]
size: 64
batch_size: 1
scorers: [quality, watermark, efficiency]
"""
PROMPTS = "one red circle\ntwo blue squares\n"
IMAGES = 4  # 2 prompts x 2 guidance values: 2 cells for the set-level efficiency metric
KILLS = 20
SEED = 20261201
# Every point the hook passes, and how often, in this sweep (batch size 1, 4 images).
GENERATION = [("file-temp", 1), ("file-temp", 2)] + [
    (p, n) for p in ("image-temp", "image-file") for n in range(1, IMAGES + 1)
]
SCORING = [("score-row", n) for n in range(1, 2 * IMAGES + 1)] + [
    (p, n) for p in ("set-update", "set-row") for n in (1, 2)
]
TIMING = {  # the timing pass's figures differ run to run
    "seconds_per_image", "images_per_second", "peak_mem_mb", "seconds_per_image_min",
    "seconds_per_image_max", "timing_spread", "timing_load_avg",
}  # fmt: skip


def kill_points() -> list[tuple[str, str, int]]:
    """20 of the 22 points, drawn with a fixed seed: (phase, point, n-th pass)."""
    every = [("generation", p, n) for p, n in GENERATION] + [("scoring", p, n) for p, n in SCORING]
    return sorted(random.Random(SEED).sample(every, KILLS))


def _rows(db: Path, sql: str) -> dict[Any, Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {tuple(r[:-1]): r[-1] for r in conn.execute(sql)}
    finally:
        conn.close()


def snapshot(run: Path, *, timing: bool = True) -> dict[str, Any]:
    """Everything a rerun must reproduce: images (key -> bytes' hash), score identities and
    values, set-level values."""
    db = run / "ledger.sqlite"
    scores = _rows(db, "SELECT key, scorer, metric, COALESCE(value, text) FROM scores")
    sets = _rows(db, "SELECT cell, prompt_id, scorer, metric, value FROM set_scores")
    if not timing:
        sets = {k: v for k, v in sets.items() if k[3] not in TIMING}
    return {
        "images": _rows(db, "SELECT key, sha256 FROM images"),
        "requests": len(_rows(db, "SELECT key, 1 FROM requests")),
        "scored": _rows(db, "SELECT key, scorer, identity FROM scored"),
        "scores": scores,
        "sets": sets,
        "set_groups": len(_rows(db, "SELECT cell, prompt_id, scorer, 1 FROM set_scored")),
    }


def assert_whole(run: Path, reference: dict[str, Any], *, timing: bool) -> None:
    report = verify_run(run)
    assert report.ok and not report.orphans, report
    assert report.checked == IMAGES
    hidden = [p for p in run.rglob(".*")]
    assert not hidden, f"temporary files left: {hidden}"
    files = sorted(p.stem for p in (run / "images").rglob("*.png"))
    assert files == sorted(key for (key,) in reference["images"])  # 0 lost, 0 duplicated
    assert snapshot(run, timing=timing) == reference
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


def _cmd(argv: list[str], log: Path, **extra: Any) -> dict[str, Any]:
    return {"argv": [*argv, "--quiet"], "log": str(log), **extra}


@pytest.mark.slow
def test_kill_9_anywhere_then_rerun_gives_the_uninterrupted_run(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    spec = tmp_path / "faults.yaml"
    spec.write_text(SPEC)
    logs = tmp_path / "logs"
    logs.mkdir()

    def run_argv(out: Path, *more: str) -> list[str]:
        return ["run", str(spec), "--out", str(out), "--no-report", *more]

    base, ref = tmp_path / "base", tmp_path / "ref"
    steps: list[dict[str, Any]] = [
        {"run": [_cmd(run_argv(base, "--no-score"), logs / "base.log")]},  # images only
        {"copy": [str(base / "faults"), str(ref / "faults")]},
        {"run": [_cmd(["score", str(ref / "faults")], logs / "ref.log")]},  # never interrupted
    ]
    cases = []
    for i, (phase, point, n) in enumerate(kill_points()):
        out = tmp_path / f"case{i:02d}"
        fault = {"T2I_AUDIT_FAULT": f"{point}:{n}"}
        if phase == "generation":
            first, again = run_argv(out), run_argv(out)
        else:  # scoring an existing run: by `run` (nothing to make) or by `score`
            steps.append({"copy": [str(base / "faults"), str(out / "faults")]})
            by_score = ["score", str(out / "faults")]
            first, again = (run_argv(out), by_score) if i % 2 else (by_score, run_argv(out))
        steps.append({"run": [_cmd(first, logs / f"case{i:02d}-killed.log", env=fault)]})
        steps.append({"run": [_cmd(again, logs / f"case{i:02d}-rerun.log")]})
        cases.append((i, phase, point, n, out / "faults", len(steps) - 2, len(steps) - 1))

    # Two writers on one run at once: each exits 0, or 2 naming the other; then both with
    # --wait, which queue and both succeed.
    both, queued = tmp_path / "both", tmp_path / "queued"
    steps.append(
        {
            "run": [
                _cmd(run_argv(both), logs / "both-a.log"),
                _cmd(run_argv(both), logs / "both-b.log", delay=0.3),
            ]
        }
    )
    steps.append(
        {
            "run": [
                _cmd(run_argv(queued, "--wait"), logs / "queued-a.log"),
                _cmd(run_argv(queued, "--wait"), logs / "queued-b.log", delay=0.3),
            ]
        }
    )
    # A file size limit (the kernel's EFBIG, as a full disk's ENOSPC) while the run writes.
    limited = tmp_path / "limited"
    steps.append({"run": [_cmd(run_argv(limited), logs / "limited.log", fsize=24 * 1024)]})
    steps.append({"run": [_cmd(run_argv(limited), logs / "limited-rerun.log")]})

    plan = {
        "warm": ["run", str(spec), "--out", str(tmp_path / "warm"), "--no-report", "--quiet"],
        "steps": steps,
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-m", "tests.harness.fault_driver", "plan.json", "results.json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())[1:]

    def log(name: str) -> str:
        return (logs / name).read_text()

    assert results[0] == [{"exit": 0, "seconds": results[0][0]["seconds"]}], log("base.log")
    assert results[2][0]["exit"] == 0, log("ref.log")
    images_only = snapshot(base / "faults")
    reference = snapshot(ref / "faults")
    assert images_only["images"] == reference["images"] and len(reference["images"]) == IMAGES
    assert len(reference["scored"]) == 2 * IMAGES and reference["set_groups"] == 2
    without_timing = {
        **reference,
        "sets": {k: v for k, v in reference["sets"].items() if k[3] not in TIMING},
    }

    phases = {phase for _, phase, *_ in cases}
    assert phases == {"generation", "scoring"}
    for i, phase, point, n, run, killed, rerun in cases:
        name = f"case{i:02d} ({point}:{n})"
        assert results[killed] == [{"signal": 9, "seconds": results[killed][0]["seconds"]}], (
            name,
            log(f"case{i:02d}-killed.log"),
        )
        rerun_log = log(f"case{i:02d}-rerun.log")
        assert results[rerun][0]["exit"] == 0 and "Traceback" not in rerun_log, (name, rerun_log)
        if phase == "generation":  # new images, new timings: all else must match
            assert_whole(run, without_timing, timing=False)
        else:
            assert_whole(run, reference, timing=True)

    # Two writers: never a traceback; the run ends complete and verified.
    for step, prefix in ((-4, "both"), (-3, "queued")):
        for side, result in zip("ab", results[step], strict=True):
            text = log(f"{prefix}-{side}.log")
            assert "Traceback" not in text, text
            assert result.get("exit") in (0, 2), (prefix, side, result, text)
            if result["exit"] == 2:
                assert prefix == "both" and "another t2i-audit process is writing" in text
        assert_whole((tmp_path / prefix) / "faults", without_timing, timing=False)
    assert [r["exit"] for r in results[-3]] == [0, 0]  # --wait: both succeed

    # The limit: exit 2 naming the file and the cause, nothing half-written; then a rerun.
    text = log("limited.log")
    assert results[-2][0].get("exit") == 2, text
    assert "Traceback" not in text and str(limited) in text
    assert "File too large" in text or "disk I/O error" in text or "full" in text, text
    assert not list((limited / "faults").rglob(".*"))
    assert results[-1][0]["exit"] == 0, log("limited-rerun.log")
    assert_whole(limited / "faults", without_timing, timing=False)


def test_the_kill_points_cover_both_phases() -> None:
    points = kill_points()
    assert len(points) == KILLS == len(set(points))
    assert sum(p == "generation" for p, *_ in points) >= 8
    assert sum(p == "scoring" for p, *_ in points) >= 10


def test_the_fault_hook_is_inert_without_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from audit import faults

    monkeypatch.delenv(faults.ENV, raising=False)
    for point in faults.POINTS:
        faults.crash_point(point)  # returns: no variable, no effect
    monkeypatch.setenv(faults.ENV, "score-row:1000000")
    faults.crash_point("image-file")  # another point: no effect
    faults.crash_point("score-row")  # not the n-th pass yet
