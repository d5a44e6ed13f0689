"""Scorer throughput benchmark: every offline scorer runs on signed images; clip vs direct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from audit.bench.score import OFFLINE_SCORERS, bench_clip, bench_scorers, make_items
from audit.scorers.base import missing
from audit.scorers.registry import default_registry

pytestmark = pytest.mark.slow


def test_every_offline_scorer_is_timed_or_says_what_it_needs() -> None:
    rows = bench_scorers(images=4, size=128)
    assert [r.name for r in rows] == list(OFFLINE_SCORERS)
    for r in rows:
        cls = default_registry().get(r.name)
        can_run = not missing(cls.check(cls.parse_options({})))
        assert (r.ips is not None) == can_run, r
        if can_run:
            assert r.ips is not None and r.ips > 0 and r.images == 4
        else:
            assert r.skipped and "fix:" in r.skipped


def test_bench_images_take_the_full_c2pa_path(tmp_path: Path) -> None:
    from audit.scorers.provenance import C2paScorer

    items = make_items(tmp_path, 2, 64)
    rows = C2paScorer().score_batch(items)
    assert [r["c2pa_state"] for r in rows] == ["valid_untrusted", "valid_untrusted"]


def test_clip_scorer_agrees_with_the_model_called_directly() -> None:
    b = bench_clip(images=8, size=96, rounds=2, batch_size=4)
    assert b.max_cosine_diff < 1e-5
    assert len(b.round_ratios) == 2 and b.scorer_ips > 0 and b.direct_ips > 0
    assert min(b.round_ratios) <= b.ratio <= max(b.round_ratios)


def test_workers_row_times_whole_commands_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bench workers` (the row `bench score` also prints), tiny: 9 images = 2 OCR batches,
    so the 2-worker side does use 2 processes."""
    from audit.cli import main

    out = tmp_path / "workers.json"
    tiny = ["--images", "9", "--size", "32", "--rounds", "1", "--json", str(out)]
    assert main(["bench", "-q", "workers", *tiny]) == 0
    (stored,) = json.loads(out.read_text())["rows"]
    assert stored["what"] == "text scoring, 2 workers / 1 (speed-up)" and stored["ratio"] > 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("text scoring, 2 workers / 1"))
    found = re.search(r"\(speed-up\)\s+(\d+\.\d) s\s+(\d+\.\d) s\s+(\d+\.\d\d)\s", row)
    assert found, row
    two, one, ratio = (float(x) for x in found.groups())
    assert two > 0 and one > 0
    assert ratio == pytest.approx(one / two, rel=0.05)  # times print rounded to 0.1 s
    assert "same values on both sides" in row and "9 images at 32px" in row


def test_workers_row_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    from audit.cli import main

    assert main(["bench", "workers", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "fix:" in err
