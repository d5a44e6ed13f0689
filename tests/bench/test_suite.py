"""`t2i-audit bench`: one table; a section that cannot run says why and the others go on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from audit.bench import suite
from audit.bench.score import OFFLINE_SCORERS
from audit.bench.suite import SuiteSizes, format_suite, run_suite
from audit.cli import main

pytestmark = pytest.mark.slow

TINY = SuiteSizes(
    score_images=4,
    score_size=96,
    clip_images=8,
    clip_rounds=1,
    fid_dim=16,
    fid_counts=(1_000, 10_000),
)


def test_suite_table_has_a_row_per_measurement() -> None:
    result = run_suite(["fid", "score"], TINY)
    whats = [r.what for r in result.rows]
    assert whats[0] == "FID state memory, 10000 / 1000 images"
    assert whats[1:] == [f"scorer {n}" for n in OFFLINE_SCORERS] + [
        "scorer clip / same model direct"
    ]
    fid = result.rows[0]
    assert fid.ok is True and fid.ratio is not None and fid.ratio <= 1.1
    table = format_suite(result)
    assert table.count("\n") >= len(result.rows) + 4
    assert all(r.what in table for r in result.rows) and "load average" in table


def test_broken_or_unavailable_sections_do_not_stop_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: SuiteSizes) -> list[suite.Row]:
        raise RuntimeError("boom")

    monkeypatch.setitem(suite.RUNNERS, "score", broken)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = run_suite(["score", "ray", "fid"], TINY)
    assert [(r.what, r.a) for r in result.rows[:2]] == [("score", "failed"), ("ray", "skipped")]
    assert "boom" in result.rows[0].note and "t2i-audit[ray]" in result.rows[1].note
    assert result.rows[2].ok is True


def test_cli_bench_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite, "SuiteSizes", lambda: TINY)
    out = tmp_path / "bench.json"
    assert main(["bench", "--sections", "fid", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["what"] for r in data["rows"]] == ["FID state memory, 10000 / 1000 images"]
    assert "FID state memory" in capsys.readouterr().out
    assert main(["bench", "all", "--sections", "fid,nope"]) == 2
