"""Parallel scoring: worker processes (and Ray actors) give the values of one process.

The runs are ingested PNGs of `audit.bench.score.make_text_run` (a shape and a quoted word
each, so `text` judges every image) in two sweep cells. Batches are made small so that a
few images make several batches (the runner sends a scorer to workers only when it has more
than one batch or chunk). The module-level scorers below are imported by the spawned
workers by reference, as any installed scorer class is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audit.bench.score import make_items, make_text_run, stored_scores
from audit.config import parse_scorer_entries
from audit.errors import UserError
from audit.scorers.base import ImageScorer, Metric, ScoreItem, ScorerOptions, Value
from audit.store.run_store import RunStore

CRASH_KEY_FILE = "T2I_AUDIT_TEST_CRASH_KEY"  # env: the image key that kills its worker


class CrashOptions(ScorerOptions):
    pass


class CrashScorer(ImageScorer[CrashOptions]):
    """Mean grey level; the worker that meets the key named in the environment dies."""

    name = "crashy"
    version = "1"
    batch_size = 2

    def metrics(self) -> list[Metric]:
        return [Metric("grey_mean", "none", description="mean grey level")]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        doomed = os.environ.get(CRASH_KEY_FILE)
        out: list[dict[str, Value]] = []
        for it in items:
            if it.key == doomed:
                import time

                time.sleep(1.0)  # let the batches before this one come back first
                os._exit(3)  # as the OOM killer would end it: no exception, no clean-up
            out.append({"grey_mean": float(np.asarray(it.image(), dtype=np.float64).mean())})
        return out


def _store(run: Path) -> RunStore:
    return RunStore.open(run)


def _score(run: Path, entries: list[Any], **kwargs: Any) -> Any:
    from audit.scorers.runner import score_run

    store = _store(run)
    try:
        return score_run(store, entries, quiet=True, **kwargs)
    finally:
        store.close()


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_text_run(tmp_path_factory.mktemp("text"), 6, 64, cells=2)


@pytest.fixture
def crash_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry that also knows `crashy`, for this test only."""
    import audit.scorers.registry as registry

    fresh = registry.new_registry()
    fresh.register("crashy", CrashScorer)
    monkeypatch.setattr(registry, "_default", fresh)


# --- the values ------------------------------------------------------------------------------


@pytest.mark.slow
def test_text_and_fid_on_two_workers_equal_one_process(
    text_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OCR and BRISQUE per image (3 and 2 batches) and the toy-CLIP Frechet distance per
    cell (merged partial states of 2 chunks): the same stored values, to the last bit, from
    2 workers as from 1."""
    from audit.scorers.quality import QualityScorer
    from audit.scorers.reference import build_reference
    from audit.scorers.text import TextScorer

    monkeypatch.setattr(TextScorer, "batch_size", 2)
    monkeypatch.setattr(QualityScorer, "batch_size", 3)
    make_items(tmp_path / "real", 6, 64, sign=False)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "toyclip"}, 8, False)
    entries = parse_scorer_entries(
        [
            "text",
            "quality",
            {
                "fid": {
                    "reference": "real",
                    "reference_root": str(tmp_path),
                    "extractor": "toyclip",
                    "bootstrap": 4,
                    "kid_subsets": 5,
                    "device": "cpu",
                }
            },
        ],
        file="test",
    )
    one = _copy(text_run, tmp_path / "one")
    two = _copy(text_run, tmp_path / "two")
    first = _score(one, entries, workers=1)
    second = _score(two, entries, workers=2)
    assert first.scored == second.scored == {"text": 6, "quality": 6, "fid": 2}
    assert first.workers == {} and second.workers == {"text": 2, "quality": 2, "fid": 2}
    a, b = stored_scores(one), stored_scores(two)
    assert len(a) == len(b) > 6 * 7
    per_image = [r for r in a if len(r[0]) == 64]
    assert {r[4] for r in per_image if r[2] == "ocr_text"} >= {"OPEN", "STOP"}  # OCR read them
    fid_a = {r[:2]: r[4] for r in a if r[3] == "fd_toyclip"}  # (cell, prompt) -> value
    assert len(fid_a) == 2 and all(v is not None and v > 0 for v in fid_a.values())
    assert a == b  # same order of summation chunk by chunk: equal to the last bit

    # A second pass on workers finds nothing new, as one process would.
    again = _score(two, entries, workers=2)
    assert again.scored == {"text": 0, "quality": 0, "fid": 0}


def test_fid_merged_partial_states_equal_one_process(tmp_path: Path) -> None:
    """`partial` on separate instances (as in workers), `merge` on one that loaded no
    network: FID, its interval and KID equal those of `update` chunk by chunk."""
    import torch

    from audit.scorers.features import extractor_kinds, from_module, register_extractor
    from audit.scorers.fid import FidOptions, FidScorer
    from audit.scorers.reference import build_reference

    def tiny(spec: Any) -> Any:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 6, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
            torch.nn.Flatten(),
        )  # fmt: skip
        return from_module(net, "poolfid:v1", input_size=32, device="cpu")

    if "poolfid" not in extractor_kinds():
        register_extractor("poolfid", tiny)
    make_items(tmp_path / "real", 12, 48, sign=False)
    build_reference(tmp_path / "real", "real", tmp_path, {"kind": "poolfid"}, 8, False)
    items = make_items(tmp_path / "fake", 20, 48, sign=False)
    opts = FidOptions(
        reference="real", reference_root=tmp_path, extractor="poolfid", bootstrap=5,
        kid_subsets=10, device="cpu",
    )  # fmt: skip
    chunks = [items[i : i + 6] for i in range(0, len(items), 6)]
    single = FidScorer(opts)
    single.reset()
    for chunk in chunks:
        single.update(chunk)
    expected = single.compute()

    driver = FidScorer(opts)
    driver.reset()
    for i, chunk in enumerate(chunks):
        worker = FidScorer(opts)  # a fresh process' copy: sees this chunk only
        worker.reset()
        state = worker.partial(chunk)
        if i == 1:
            worker.partial(chunks[0])  # a worker's earlier chunks leave no trace
        driver.merge(state)
    assert driver._extractor is None  # the driver loaded no network
    merged = driver.compute()
    assert expected["fd_poolfid"] is not None and expected["kid_poolfid_mean"] is not None
    assert set(merged) == set(expected)
    for name, value in expected.items():
        assert merged[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


# --- bad input, dead workers -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["0", "-2"])
def test_workers_below_one_exit_2_with_field_and_fix(
    bad: str, text_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    for command in (["score", str(text_run)], ["run"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--workers", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --workers: must be at least 1" in err and "fix: give --workers 1" in err


def test_workers_below_one_in_the_api_name_the_field(text_run: Path) -> None:
    import audit
    from audit.api import score_existing

    with pytest.raises(UserError) as err:
        score_existing(text_run, parse_scorer_entries(["quality"], file="t"), workers=0)
    assert err.value.field == "workers" and err.value.fix and "1" in err.value.fix
    with pytest.raises(UserError, match="whole number"):
        audit.score([], [], workers=-1)
    with pytest.raises(UserError) as err:
        _score(text_run, [], executor="dask")
    assert err.value.field == "executor"


def test_a_dead_worker_fails_clearly_and_keeps_what_was_written(
    text_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_registry: None
) -> None:
    from audit.cli import main

    run = _copy(text_run, tmp_path / "run")
    keys = _keys(run)
    monkeypatch.setenv(CRASH_KEY_FILE, keys[-1])  # the last of 3 batches of 2
    entries = parse_scorer_entries(["crashy"], file="t")
    with pytest.raises(UserError) as err:
        _score(run, entries, workers=2)
    assert "a scoring worker died while scoring crashy" in str(err.value)
    assert err.value.field == "--workers" and "run the same command again" in str(err.value)
    written = {r[0] for r in stored_scores(run)}  # one metric: one row per image
    # What was written is whole batches from the first, in order; the ledger still reads.
    assert 2 <= len(written) < len(keys) and len(written) % 2 == 0
    assert written == set(keys[: len(written)])
    monkeypatch.delenv(CRASH_KEY_FILE)
    assert main(["score", str(run), "--scorers", "crashy", "--workers", "1", "-q"]) == 0
    rerun = {r[0]: r[3] for r in stored_scores(run)}
    assert set(rerun) == set(keys)
    fresh = _copy(text_run, tmp_path / "fresh")
    _score(fresh, entries, workers=1)
    assert rerun == {r[0]: r[3] for r in stored_scores(fresh)}
    assert main(["verify", str(run)]) == 0


def test_unreadable_images_are_marked_as_by_one_process(
    text_run: Path, tmp_path: Path, crash_registry: None
) -> None:
    """A file that does not decode: a worker marks it, the driver lists it, the others are
    scored; the same list and values as in one process."""
    entries = parse_scorer_entries(["crashy"], file="t")
    seen = {}
    for k in (1, 2):
        run = _copy(text_run, tmp_path / f"run{k}")
        sorted((run / "images").rglob("*.png"))[2].write_bytes(b"not a png")
        summary = _score(run, entries, workers=k)
        assert summary.workers == ({"crashy": 2} if k == 2 else {})
        why = {path: text.split(" (")[0] for path, text in summary.unreadable.items()}
        seen[k] = (why, stored_scores(run))  # the cause without PIL's object address
    assert seen[1] == seen[2]
    unreadable, rows = seen[2]
    assert list(unreadable.values()) == ["not a readable image"] and len(rows) == 5


def _keys(run: Path) -> list[str]:
    """Image keys in the order the runner scores them (ledger order)."""
    store = _store(run)
    try:
        return [row["key"] for row in store.ledger.images()]
    finally:
        store.close()


# --- Ray -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_actors_give_the_values_of_one_process(
    text_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    from audit.scorers.quality import QualityScorer

    monkeypatch.setattr(QualityScorer, "batch_size", 2)
    entries = parse_scorer_entries(["quality"], file="t")
    here = _copy(text_run, tmp_path / "here")
    there = _copy(text_run, tmp_path / "there")
    _score(here, entries, workers=1)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20)
    try:
        summary = _score(there, entries, workers=2, executor="ray")
    finally:
        ray.shutdown()
    assert summary.scored == {"quality": 6} and summary.workers == {"quality": 2}
    a, b = stored_scores(here), stored_scores(there)
    assert [r[:3] for r in a] == [r[:3] for r in b] and len(a) == 6
    # Equal within float rounding, not to the last bit: inside a Ray worker process BRISQUE's
    # numerical libraries round differently (seen: 3e-15 relative); the process pool gives
    # the last bit too (test above, and the quality scorer alike).
    assert [r[3] for r in b] == pytest.approx([r[3] for r in a], rel=1e-12)


def test_the_default_worker_count_comes_from_the_environment_or_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from audit.scorers.pool import WORKERS_VARIABLE, check_workers, cores, default_workers

    monkeypatch.setenv(WORKERS_VARIABLE, "3")
    assert default_workers() == 3
    with pytest.raises(UserError) as err:  # a wrong --workers is told the default in force
        check_workers(0)
    assert f"${WORKERS_VARIABLE} (3 here)" in (err.value.fix or "")
    monkeypatch.delenv(WORKERS_VARIABLE)
    assert default_workers() == cores()
    with pytest.raises(UserError) as err:
        check_workers(0)
    assert f"the number of cores ({cores()} here)" in (err.value.fix or "")
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_VARIABLE, bad)
        with pytest.raises(UserError) as err:
            default_workers()
        assert err.value.field == WORKERS_VARIABLE and "unset it" in (err.value.fix or "")
