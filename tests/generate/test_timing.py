"""The timing pass: records per cell, kept on resume, redone when what decides speed changes,
read by the efficiency scorer; no pass, no speed."""

from __future__ import annotations

import json
import sqlite3
import statistics
from pathlib import Path

import pytest

from audit.cli import main
from audit.config import SweepSpec, TimingSpec, load_spec, parse_spec
from audit.errors import UserError
from audit.generate.timing import due_cells, spread
from audit.scorers.efficiency import NO_TIMING
from audit.store.ledger import SCHEMA_VERSION, Ledger
from audit.sweep import plan, run_sweep

SPEC = """\
name: timed
models:
  - id: tiny
    source: builtin:tiny-random-sd
samplers: [ddim, euler]
steps: [1]
guidance: [1.0]
seeds: [0]
suites: [prompts.txt]
size: 32
batch_size: 2
scorers: [efficiency]
timing: {repeats: 3, batch_size: 1, warmup: 1}
"""


def _spec(folder: Path, text: str = SPEC) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.txt").write_text("a red cube\ntwo dogs\n")
    path = folder / "timed.yaml"
    path.write_text(text)
    return path


def _rows(run: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(run / "ledger.sqlite")
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def _base(**timing: object) -> dict[str, object]:
    return {
        "name": "x",
        "models": [{"id": "m", "source": "builtin:tiny-random-sd"}],
        "samplers": ["ddim"],
        "steps": [1],
        "guidance": [1.0],
        "seeds": [0],
        "suites": ["p.txt"],
        **timing,
    }


def test_spec_section_defaults_off_switch_and_bad_values() -> None:
    assert parse_spec(_base()).timing == TimingSpec()
    assert parse_spec(_base(timing=False)).timing is None
    assert parse_spec(_base(timing=True)).timing == TimingSpec()
    assert parse_spec(_base(timing={"repeats": 5})).timing == TimingSpec(repeats=5)
    with pytest.raises(UserError) as err:
        parse_spec(_base(timing={"repeats": 0}), file="s.yaml")
    assert "timing.repeats" in str(err.value)
    with pytest.raises(UserError):
        parse_spec(_base(timing={"reps": 3}), file="s.yaml")


def test_spread_against_statistics() -> None:
    values = [0.31, 0.29, 0.5, 0.3, 0.33]
    got = spread(values)
    assert got["median"] == statistics.median(values)
    assert (got["min"], got["max"]) == (0.29, 0.5)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    assert (got["q1"], got["q3"]) == (q1, q3)
    assert got["relative_spread"] == pytest.approx((0.5 - 0.29) / 0.31)
    assert spread([2.0])["relative_spread"] == 0.0


def test_due_cells_follow_what_decides_speed(tmp_path: Path) -> None:
    spec, base = load_spec(_spec(tmp_path))
    requests = plan(spec, base)
    due = due_cells(spec, requests, {})
    assert len(due) == 2 and all(len(d.requests) == 2 for d in due)
    stored = {d.requests[0].cell: d.identity for d in due}
    assert due_cells(spec, requests, stored) == []
    assert len(due_cells(spec, requests, stored, force=True)) == 2

    def changed(**update: object) -> SweepSpec:
        return spec.model_copy(update=update)

    # Pass settings and runtime decide speed; prompts and seeds do not.
    assert len(due_cells(changed(timing=TimingSpec(repeats=4)), requests, stored)) == 2
    slicing = spec.runtime.model_copy(update={"attention_slicing": True})
    assert len(due_cells(changed(runtime=slicing), requests, stored)) == 2
    more = plan(changed(seeds=[0, 1]), base)
    assert due_cells(spec, more, stored) == []
    assert due_cells(changed(timing=None), requests, {}) == []


def test_run_times_each_cell_once_and_efficiency_reads_it(tmp_path: Path) -> None:
    spec_path = _spec(tmp_path)
    spec, base = load_spec(spec_path)
    out = tmp_path / "out"
    first = run_sweep(spec, base, out, quiet=True)
    run = out / "timed"
    assert first.timed == 2
    records = [json.loads(r[0]) for r in _rows(run, "SELECT record FROM timings")]
    assert len(records) == 2
    for rec in records:
        assert len(rec["seconds"]) == 3 and rec["repeats"] == 3 and rec["batch_size"] == 1
        assert rec["median"] == statistics.median(rec["seconds"])
        assert rec["device"] == "cpu" and rec["torch_threads"] >= 1
        assert len(rec["load_avg"]) == 3 and rec["png_bytes"] > 0
    # The efficiency scorer's numbers are the records', not the sweep's batch shares.
    values = dict(
        _rows(
            run,
            "SELECT sampler || ':' || metric, value FROM set_scores WHERE scorer = 'efficiency'",
        )
    )
    for rec in records:
        s = rec["cell"]["sampler"]
        assert values[f"{s}:seconds_per_image"] == pytest.approx(rec["median"])
        assert values[f"{s}:images_per_second"] == pytest.approx(1 / rec["median"])
        assert values[f"{s}:seconds_per_image_max"] == pytest.approx(max(rec["seconds"]))
        assert values[f"{s}:timing_spread"] == pytest.approx(rec["relative_spread"])
        assert values[f"{s}:timing_repeats"] == 3
    assert _rows(run, "SELECT COUNT(*) FROM set_scores WHERE metric = 'mean_gen_seconds'") == [(0,)]

    # Resume: nothing generated, nothing timed, nothing rescored.
    again = run_sweep(spec, base, out, quiet=True)
    assert (again.generated, again.timed) == (0, 0)
    assert again.score is not None and again.score.scored["efficiency"] == 0

    # Other pass settings: timed again, and the efficiency scores follow the new records.
    spec5 = spec.model_copy(update={"timing": TimingSpec(repeats=2, warmup=0)})
    third = run_sweep(spec5, base, out, quiet=True)
    assert third.timed == 2 and third.score is not None
    assert third.score.scored["efficiency"] == 2
    repeats = _rows(run, "SELECT value FROM set_scores WHERE metric = 'timing_repeats'")
    assert repeats == [(2.0,), (2.0,)]


def test_no_timing_pass_means_no_speed(tmp_path: Path) -> None:
    spec_path = _spec(
        tmp_path, SPEC.replace("timing: {repeats: 3, batch_size: 1, warmup: 1}", "timing: false")
    )
    assert main(["run", str(spec_path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    run = tmp_path / "out" / "timed"
    assert _rows(run, "SELECT COUNT(*) FROM timings") == [(0,)]
    rows = _rows(run, "SELECT metric, value, label FROM set_scores WHERE scorer = 'efficiency'")
    assert rows == [("timing_repeats", 0.0, NO_TIMING)] * 2
    report = (run / "report.html").read_text()
    assert "no timing pass: speed not measured" in report


def test_schema_2_ledger_is_migrated_keeping_everything(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    ledger.conn.execute("DROP TABLE timings")
    ledger.conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    ledger.conn.execute("INSERT INTO metrics VALUES ('x', 'efficiency', 'lower', 'continuous', '')")
    ledger.close()
    # A read-only open (as `plan` does) neither migrates nor fails on the missing table.
    ro = Ledger(path, readonly=True, untouched=True)
    assert ro.timing_identities() == {} and ro.timings() == []
    ro.close()
    again = Ledger(path)
    assert again.migrated_from == 2
    version = again.conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
    assert version.fetchone()[0] == str(SCHEMA_VERSION) == "3"
    assert again.conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 1
    assert again.timing_identities() == {}
    again.close()
