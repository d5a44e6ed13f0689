"""Loading through frames, cached on the ledger's modification time; the Runs overview."""

from __future__ import annotations

import shutil
from pathlib import Path

from audit.dashboard import data
from audit.store.frames import ledger_mtime, load_run, run_progress
from audit.store.ledger import Ledger
from tests.dashboard.conftest import Reports


def test_frames_are_cached_until_the_ledger_changes(reports: Reports, tmp_path: Path) -> None:
    run = tmp_path / "sweep"
    shutil.copytree(reports.sweep, run)
    data.CACHE.clear()
    first = data.frames(run)
    assert data.frames(run) is first  # same mtime: no second read
    assert data.CACHE.misses == 1
    summary = data.summary(run)
    assert data.summary(run) is summary

    before = ledger_mtime(run)
    key = str(first.images["key"].iloc[0])
    ledger = Ledger(run / "ledger.sqlite")
    try:
        ledger.record_scores("probe", "1", [(key, {"probe_score": 0.25})])
    finally:
        ledger.close()
    assert ledger_mtime(run) > before
    second = data.frames(run)
    assert second is not first
    assert "probe_score" not in first.images.columns
    row = second.images.set_index("key").loc[key]
    assert row["probe_score"] == 0.25
    assert "probe_score" in set(data.summary(run).stats["metric"])


def test_run_progress_counts_active_requests(reports: Reports) -> None:
    assert run_progress(reports.sweep) == (16, 16)
    assert run_progress(reports.base) == (12, 12)
    assert run_progress(reports.root / "missing") == (0, 0)


def test_overview_reads_spec_and_progress(reports: Reports) -> None:
    over = data.overview("sweep", reports.sweep)
    frames = load_run(reports.sweep)
    assert (over.done, over.total, over.status) == (len(frames.images), 16, "complete")
    assert over.spec == "sweep"
    assert over.size == "32x32"
    assert over.samplers == "ddim, euler"
    assert over.steps == "1, 2"
    assert over.guidance == "1, 5"
    assert over.scorers == "efficiency, quality, nsfw, watermark"
    assert over.device == frames.run_info["device"]
    assert over.has_report  # `t2i-audit run` writes report.html when scorers ran
    ingested = data.overview("base", reports.base)
    assert (ingested.done, ingested.total) == (12, 12)
    assert not ingested.has_report
