"""`t2i-audit plan`: counts as `run` would find them, an estimate, and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit.cli import main
from audit.config import load_spec
from audit.plan import make_plan
from audit.store.ledger import Ledger
from tests.conftest import write_smoke_spec


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time (ns)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def test_plan_of_the_smoke_spec_says_48_images_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_smoke_spec(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    assert main(["plan", str(spec), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert _tree(tmp_path) == before, "plan wrote something"
    assert not (out / "smoke").exists()
    assert "requests: 48 images in 8 cells" in text
    assert "images: 0 there, 48 to generate" in text
    assert "timing pass: 8 of 8 cells due" in text
    # No earlier run under --out: the estimate comes from a calibration run, and says so.
    assert "a calibration run just now" in text and "nothing was saved" in text
    assert "scoring: nothing due" in text  # the test spec has no scorers
    assert "time: about" in text and "disk: about" in text
    assert text.rstrip().endswith("nothing was written")


def test_plan_after_a_partial_run_counts_what_is_there(smoke_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = out / "smoke"
    shutil.copytree(smoke_run, run)
    assert main(["score", str(run), "--scorers", "c2pa,efficiency", "--quiet"]) == 0
    # Two image files vanish (made again, their scores dropped) and three records are lost.
    files = sorted((run / "images").rglob("*.png"))
    for victim in files[:2]:
        victim.unlink()
    conn = sqlite3.connect(run / "ledger.sqlite")
    lost = [r[0] for r in conn.execute("SELECT key FROM images ORDER BY key DESC LIMIT 3")]
    conn.close()
    ledger = Ledger(run / "ledger.sqlite")
    ledger.delete_images(lost)  # with their scores, as a run does for a vanished file
    ledger.close()
    spec_path = write_smoke_spec(
        tmp_path / "src", **{"scorers: []": "scorers: [c2pa, efficiency, clip]"}
    )
    spec, base = load_spec(spec_path)
    before = _tree(out)
    plan = make_plan(spec, base, out, spec_file=str(spec_path), calibrate=False)
    assert _tree(out) == before, "plan wrote something"
    assert (plan.requests, plan.cells, plan.present) == (48, 8, 43)
    assert (plan.to_generate, plan.vanished, plan.timing_due) == (5, 2, 0)
    scorers = {s.instance: s for s in plan.scorers}
    assert (scorers["c2pa"].present, scorers["c2pa"].due, scorers["c2pa"].unit) == (43, 5, "images")
    # The regenerated images keep their keys: every cell's group is as it was scored.
    assert (scorers["efficiency"].present, scorers["efficiency"].due) == (8, 0)
    assert scorers["clip"].lacking and scorers["clip"].due == 0
    # The estimate comes from this run's own timing records (same weights, same device).
    assert plan.estimate is not None and plan.estimate.seconds_generate is not None
    assert plan.estimate.seconds_generate > 0 and plan.estimate.seconds_timing == 0
    assert "earlier runs here (smoke)" in plan.estimate.time_source
    assert plan.estimate.disk_bytes is not None and plan.estimate.disk_bytes > 0
    # Scoring time: the c2pa pass above (48 images, 1 worker: the suite's default) prices
    # the 5 due; clip cannot run here, efficiency has nothing due.
    c2pa = json.loads((run / "run.json").read_text())["score_rates"]["c2pa"]
    assert (c2pa["items"], c2pa["workers"], c2pa["unit"]) == (48, 1, "images")
    assert scorers["c2pa"].seconds == pytest.approx(5 * c2pa["seconds"] / 48)
    assert scorers["efficiency"].seconds is None and scorers["clip"].seconds is None
    assert plan.scoring is not None
    assert (plan.scoring.runs, plan.scoring.unknown, plan.scoring.workers) == (["smoke"], [], 1)
    assert plan.scoring.seconds == scorers["c2pa"].seconds
    assert scorers["c2pa"].seconds_from == "same options" and not plan.scoring.other_options
    # At another worker count the pass above is no evidence: named, not guessed.
    two = make_plan(spec, base, out, spec_file=str(spec_path), calibrate=False, workers=2)
    assert two.scoring is not None and (two.scoring.unknown, two.scoring.workers) == (["c2pa"], 2)

    # Other timing settings: every cell is timed again, and its efficiency group rescored.
    assert spec.timing is not None
    spec2 = spec.model_copy(update={"timing": spec.timing.model_copy(update={"repeats": 4})})
    replan = make_plan(spec2, base, out, estimate=False)
    assert replan.timing_due == 8 and replan.estimate is None
    assert {s.instance: s.due for s in replan.scorers}["efficiency"] == 8
    assert _tree(out) == before
    assert os.listdir(run).count("ledger.sqlite-wal") == 0


def test_scoring_lines_say_what_was_priced_how() -> None:
    from audit.cli.plan import _scoring_lines
    from audit.plan import ScoringEstimate

    assert _scoring_lines(ScoringEstimate(0.0, 2, [], [])) == ["  scoring: nothing due"]
    assert _scoring_lines(ScoringEstimate(0.0, 1, [], ["text"])) == [
        "  scoring: not estimated at 1 worker",
        "    no estimate for text: no earlier pass of that scorer here with 1 worker",
    ]
    lines = _scoring_lines(ScoringEstimate(30.0, 2, ["smoke"], ["clip"], ["text"]))
    assert (
        lines[0]
        == "  scoring: about 30 s at 2 workers, from earlier scoring passes on this host (smoke)"
    )
    assert "text: priced by earlier passes with other options" in lines[1]
    assert "no estimate for clip" in lines[2]
