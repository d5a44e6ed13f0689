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
    fid_speed_dim=24,
)
FID_ROWS = [
    "FID state memory, 10000 / 1000 images",
    "Frechet distance per cell at d=24: reference factored once / scipy sqrtm",
]


def test_suite_table_has_a_row_per_measurement() -> None:
    result = run_suite(["fid", "score"], TINY)
    whats = [r.what for r in result.rows]
    assert whats[:2] == FID_ROWS
    assert whats[2:] == [f"scorer {n}" for n in OFFLINE_SCORERS] + [
        "scorer clip / same model direct",
        "scorer vqascore / same model direct",
        "scorer cmmd / library direct",
        "extractor dinov2 / library direct",
        "scorer pickscore / same model direct",
        "scorer hpsv2 / same model direct",
        "scorer aesthetic / same model direct",
    ]
    fid = result.rows[0]
    assert fid.ok is True and fid.ratio is not None and fid.ratio <= 1.1
    speed = result.rows[1]  # its target is for d = 2048; here only its shape is checked
    assert speed.target == ">= 10" and speed.ratio is not None and speed.ratio > 0
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
    assert result.rows[2].ok is True and result.rows[3].what == FID_ROWS[1]


def test_cli_bench_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite, "SuiteSizes", lambda: TINY)
    out = tmp_path / "bench.json"
    assert main(["bench", "--sections", "fid", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["what"] for r in data["rows"]] == FID_ROWS
    assert "FID state memory" in capsys.readouterr().out
    assert main(["bench", "all", "--sections", "fid,nope"]) == 2


def test_cli_bench_fid_prints_the_per_cell_row_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fid.json"
    assert main(["bench", "fid", "--dim", "24", "--cells", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Frechet distance per cell at d=24" in printed and "scipy sqrtm" in printed
    row = json.loads(out.read_text())["rows"][1]
    assert row["what"] == FID_ROWS[1] and row["ratio"] > 0 and row["target"] == ">= 10"
    assert "3 cells" in row["note"] and "per round" in row["note"]
    assert main(["bench", "fid", "--cells", "0"]) == 2


def test_bench_all_with_the_score_section_carries_the_workers_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.bench import score

    monkeypatch.setitem(suite.RUNNERS, "score", lambda _: [suite.Row("scorer text", "1 img/s")])
    monkeypatch.setitem(suite.RUNNERS, "fid", lambda _: [suite.Row("fid", "1 s")])
    workers_row = suite.Row("text scoring, 2 workers / 1 (speed-up)", "30 s", "40 s", 1.33)
    monkeypatch.setattr(score, "workers_rows", lambda: [workers_row])
    out = tmp_path / "bench.json"
    assert main(["bench", "all", "--sections", "score", "--json", str(out)]) == 0
    whats = [r["what"] for r in json.loads(out.read_text())["rows"]]
    assert whats == ["scorer text", workers_row.what]
    assert main(["bench", "--sections", "fid", "--json", str(out)]) == 0
    assert workers_row.what not in [r["what"] for r in json.loads(out.read_text())["rows"]]
