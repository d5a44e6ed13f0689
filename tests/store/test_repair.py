"""A damaged or missing ledger: every command says so (exit 2, pointing at --repair), and
`verify --repair` rebuilds it from run.json and the images, keeping only whole score groups."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.repair import repair_run
from audit.store.ledger import Ledger
from audit.store.run_store import RunStore
from audit.store.salvage import salvage
from audit.vocab import Metric, request_row
from tests import hostile

PAGE = 4096
QUALITY = [Metric("q", "higher"), Metric("note", "higher", kind="text")]
WATERMARK = [Metric(f"wm{i}", "higher") for i in range(12)]


def _key(i: int) -> str:
    return hashlib.sha256(f"request {i}".encode()).hexdigest()


def _record(name: str) -> dict[str, Any]:
    return {"scorer": name, "label": None, "version": "1", "identity": f"id-{name}"}


def synthetic_run(run_dir: Path, n: int = 24) -> Path:
    """A run written through the store with enough rows to span many ledger pages."""
    store = RunStore(run_dir, create=True)
    try:
        store.ledger.upsert_requests(
            [
                request_row(
                    key=_key(i),
                    model="m",
                    source="builtin:x",
                    fingerprint="f",
                    dtype="float32",
                    sampler="ddim",
                    steps=2,
                    guidance=1.0,
                    width=32,
                    height=32,
                    seed=i % 3,
                    suite="s",
                    prompt_id=f"p{i // 3}",
                    prompt=f"prompt {i} " * 8,
                    negative="",
                    category="c",
                    expect_json="{}",
                )  # fmt: skip
                for i in range(n)
            ],
            deactivate_others=True,
        )
        for i in range(n):
            store.save_image(
                _key(i), hostile.encode(hostile.rgb(32, i)), gen_seconds=0.1 * i,
                peak_mem_mb=100.0, nan_or_black=False, safety_flag=None, origin="generated",
            )  # fmt: skip
        store.ledger.record_instance("quality", _record("quality"), QUALITY)
        store.ledger.record_instance("watermark", _record("watermark"), WATERMARK)
        store.ledger.record_instance("diversity", _record("diversity"), [Metric("div", "higher")])
        for start in range(0, n, 4):
            batch = range(start, min(start + 4, n))
            store.ledger.record_scores(
                "quality",
                "id-quality",
                [(_key(i), {"q": i / n, "note": f"n{i}" if i % 2 else None}) for i in batch],
            )
            store.ledger.record_scores(
                "watermark",
                "id-watermark",
                [(_key(i), {f"wm{j}": i * 100 + j for j in range(12)}) for i in batch],
            )
        for p in range(n // 3):
            cell = {"model": "m", "sampler": "ddim", "steps": 2, "guidance": 1.0}
            cell |= {"width": 32, "height": 32}
            store.ledger.record_set_scores(
                "diversity", "id-diversity", cell, f"p{p}", {"div": p / 10, "div_ci_low": 0.0},
                label="d", n=3, inputs=f"in{p}",
            )  # fmt: skip
        store.write_info(status="complete")
    finally:
        store.close()
    return run_dir


def _rows(db: Path, sql: str) -> dict[Any, Any]:
    conn = sqlite3.connect(db)
    try:
        return {tuple(r[:-1]): r[-1] for r in conn.execute(sql)}
    finally:
        conn.close()


SCORES = "SELECT key, scorer, metric, COALESCE(value, text) FROM scores"
SCORED = "SELECT key, scorer, identity FROM scored"
SETS = "SELECT cell, prompt_id, scorer, metric, value FROM set_scores"
IMAGES = "SELECT key, path, sha256 FROM images"


def _zero(db: Path, offset: int, length: int = PAGE) -> None:
    with db.open("r+b") as f:
        f.seek(offset)
        f.write(bytes(length))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_run(tmp_path_factory.mktemp("synthetic") / "run")


def test_every_damaged_page_repairs_to_whole_groups_only(synthetic: Path, tmp_path: Path) -> None:
    """Zero each page of the ledger in turn: the repair never fails, never keeps part of a
    score group, keeps every image whose request survived, and `verify` passes after."""
    db = synthetic / "ledger.sqlite"
    pages = db.stat().st_size // PAGE
    assert pages >= 10
    scores, scored, sets = _rows(db, SCORES), _rows(db, SCORED), _rows(db, SETS)
    kept_any = 0
    for page in range(2, pages + 1):  # page 1 (the header) is the next test's case
        run = tmp_path / f"page{page}"
        shutil.copytree(synthetic, run)
        _zero(run / "ledger.sqlite", (page - 1) * PAGE)
        report = repair_run(run)
        assert report.state in ("damaged", "sound")
        new = run / "ledger.sqlite"
        new_scores, new_scored = _rows(new, SCORES), _rows(new, SCORED)
        # Every kept value is the original one, and groups are whole: a kept (key, scorer)
        # has all its original metric rows, a dropped one has none.
        assert all(scores[k] == v for k, v in new_scores.items())
        assert all(scored[k] == v for k, v in new_scored.items())
        for key, scorer in new_scored:
            original = {m for (k, s, m) in scores if (k, s) == (key, scorer)}
            assert {m for (k, s, m) in new_scores if (k, s) == (key, scorer)} == original
        assert {(k, s) for k, s, _ in new_scores} <= set(new_scored)
        assert all(sets[k] == v for k, v in _rows(new, SETS).items())
        kept_any += len(new_scored)
        assert main(["verify", str(run)]) == 0
    assert kept_any > 0.8 * len(scored) * (pages - 1)  # most damage costs a few groups only


def test_a_zeroed_header_loses_the_rows_but_not_the_run(synthetic: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(synthetic, run)
    _zero(run / "ledger.sqlite", 0)
    assert salvage(run / "ledger.sqlite").unreadable_schema
    report = repair_run(run)
    assert report.state == "damaged" and report.kept_as is not None and report.kept_as.is_file()
    # No spec in run.json and no readable row: the image files stay, recorded by no request.
    assert len(report.unknown_files) == 24
    assert main(["verify", str(run)]) == 0


def test_a_sound_ledger_is_left_alone(synthetic: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(synthetic, run)
    before = (run / "ledger.sqlite").read_bytes()
    assert repair_run(run).state == "sound"
    assert (run / "ledger.sqlite").read_bytes() == before


def _damage_middle(run: Path) -> None:
    db = run / "ledger.sqlite"
    _zero(db, db.stat().st_size // 2 // PAGE * PAGE)


def test_every_command_on_a_damaged_ledger_says_so_and_points_at_repair(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: 4 KiB zeroed inside ledger.sqlite of the 48-image smoke run."""
    run = tmp_path / "out" / "smoke"
    shutil.copytree(smoke_run, run)
    _damage_middle(run)
    spec = smoke_run.parent.parent / "smoke.yaml"
    out = str(run.parent)
    for argv in (
        ["run", str(spec), "--out", out, "--quiet", "--no-report"],
        ["score", str(run), "--scorers", "efficiency", "--quiet"],
        ["verify", str(run)],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "ledger is damaged" in err and "verify" in err and "--repair" in err, argv
        assert "Traceback" not in err
    # Readers either read the rows they need (the damage may be in an index) or say so.
    for argv in (["report", str(run), "--format", "json", "--out", str(tmp_path / "r.json")],):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 0 or (code == 2 and "--repair" in err), argv
    assert main(["verify", str(run), "--repair"]) == 0
    printed = capsys.readouterr().out
    assert "rebuilt it" in printed and "48 images checked, ok" in printed
    assert main(["run", str(spec), "--out", out, "--quiet", "--no-report"]) == 0
    assert "48 images" in capsys.readouterr().out
    assert len(_rows(run / "ledger.sqlite", IMAGES)) == 48
    assert main(["verify", str(run)]) == 0
    assert "48 images checked, ok" in capsys.readouterr().out


def test_a_missing_ledger_is_rebuilt_from_run_json_and_the_images(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    for side in ("", "-wal", "-shm"):
        Path(f"{run / 'ledger.sqlite'}{side}").unlink(missing_ok=True)
    assert main(["verify", str(run)]) == 2
    assert "--repair" in capsys.readouterr().err
    report = repair_run(run)
    assert report.state == "missing"
    assert report.requests == 48 and report.requests_read == 0 and report.images == 48
    assert report.timings_lost == 48  # gen_seconds lived only in the ledger
    before = _rows(smoke_run / "ledger.sqlite", IMAGES)
    assert _rows(run / "ledger.sqlite", IMAGES) == before  # same keys, files, hashes
    ledger = Ledger(run / "ledger.sqlite", readonly=True)
    try:
        assert len(ledger.images()) == 48  # every request active again, joined to its image
    finally:
        ledger.close()


def test_images_that_vanished_with_the_ledger_are_queued_again(
    smoke_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    _damage_middle(run)
    victims = sorted((run / "images").rglob("*.png"))[:3]
    victims[0].unlink()
    victims[1].write_bytes(b"not a png")  # no longer decodes: not recorded
    (victims[2].parent / f".{victims[2].name}.tmp123").write_bytes(b"half")  # a dead write
    report = repair_run(run)
    assert report.images == 46 and report.to_generate == 2
    assert report.unreadable == [str(victims[1].relative_to(run))]
    assert not list(run.glob("images/*/.*"))
    assert any("the next `t2i-audit run` makes them" in line for line in report.lines())


TIMINGS = "SELECT model, sampler, steps, guidance, width, height, identity, record FROM timings"


def test_timing_pass_records_that_read_whole_survive_a_repair(
    smoke_run: Path, tmp_path: Path
) -> None:
    """A damaged page of the scores table costs scores, not the cells' timing passes: the
    next run does not time those cells again."""
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    db = run / "ledger.sqlite"
    conn = sqlite3.connect(db)
    try:
        timed = {r[:-1]: r[-1] for r in conn.execute(TIMINGS)}
        page = conn.execute("SELECT max(pageno) FROM dbstat WHERE name = 'scores'").fetchone()[0]
    finally:
        conn.close()
    assert len(timed) == 8  # 2 samplers x 2 step counts x 2 guidances
    _zero(db, (page - 1) * PAGE)
    report = repair_run(run)
    assert report.state == "damaged" and report.timing_cells_kept == 8
    assert _rows(db, TIMINGS) == timed
    assert "  timing pass: 8 cells' records kept" in report.lines()


def test_a_timing_record_that_does_not_parse_is_dropped(smoke_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    db = run / "ledger.sqlite"
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE timings SET record = '{half' WHERE sampler = 'ddim'")
        page = conn.execute("SELECT max(pageno) FROM dbstat WHERE name = 'scores'").fetchone()[0]
    finally:
        conn.close()
    _zero(db, (page - 1) * PAGE)
    report = repair_run(run)
    assert report.timing_cells_kept == 4  # the euler cells; the ddim ones are timed again
    assert {r[1] for r in _rows(db, TIMINGS)} == {"euler"}
