"""Readers (dashboard, report, export, gate) read while a writer rewrites scores: they never
block it and never see half a transaction."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from audit.store.frames import load_run, run_progress
from audit.store.run_store import RunStore
from audit.vocab import Metric
from tests import hostile
from tests.store.test_repair import _key, synthetic_run

METRICS = [Metric(f"m{i}", "higher") for i in range(6)]


def _rewrite_scores(run: Path, seconds: float) -> int:
    """In a child process: rewrite every image's scores, one transaction per generation g
    (all values = g), for `seconds`. Exit status 0 when no transaction waited on a reader."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store = RunStore.open(run)
            store.ledger.record_instance(
                "rw", {"scorer": "rw", "version": "1", "identity": "i"}, METRICS
            )
            keys = [r["key"] for r in store.ledger.images()]
            end, g, slowest = time.monotonic() + seconds, 0, 0.0
            while time.monotonic() < end:
                g += 1
                start = time.monotonic()
                rows = [(k, {m.name: float(g) for m in METRICS}) for k in keys]
                store.ledger.record_scores("rw", "i", rows)
                # Remove one image with its scores in one transaction, then score it and
                # record it again: a reader must never see the image without its scores.
                store.ledger.delete_images([keys[0]])
                store.ledger.record_scores("rw", "i", rows[:1])
                _save(store, keys[0])
                slowest = max(slowest, time.monotonic() - start)
            store.close()
            code = 0 if slowest < 2.0 and g > 5 else 2
        finally:
            os._exit(code)
    return pid


def _save(store: RunStore, key: str) -> None:
    data = hostile.encode(hostile.rgb(32, int(key[:4], 16) % 24))
    store.save_image(
        key, data, gen_seconds=0.1, peak_mem_mb=1.0, nan_or_black=False, safety_flag=None,
        origin="generated",
    )  # fmt: skip


def test_readers_see_whole_transactions_and_never_block_the_writer(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path / "run", n=12)
    writer = _rewrite_scores(run, seconds=3.0)
    seen: set[float] = set()
    reads = 0
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            frames = load_run(run)
            assert len(frames.images) in (11, 12)  # one image is briefly out
            assert run_progress(run)[0] == 12
            if "m0" not in frames.images.columns:
                continue  # the writer has not committed its first generation yet
            values = frames.images[[m.name for m in METRICS]].to_numpy()
            # One snapshot: every image and every metric carries the same generation.
            assert (values == values[0, 0]).all(), values
            seen.add(float(values[0, 0]))
            reads += 1
    finally:
        _, status = os.waitpid(writer, 0)
    assert os.WEXITSTATUS(status) == 0
    assert reads > 3 and len(seen) > 1  # reads overlapped several rewrites
    assert _key(0) in set(load_run(run).images["key"])


def test_a_commit_between_two_reads_of_one_load_is_not_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic version of the race: a writer commits (an image and its scores removed)
    between the reader's query of the images and its query of the scores."""
    import pandas as pd

    run = synthetic_run(tmp_path / "run", n=6)
    victim = _key(0)
    real = pd.read_sql_query
    calls = []

    def read_then_commit(*args: Any, **kwargs: Any) -> pd.DataFrame:
        out = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:  # after the images query: another process would commit now
            store = RunStore.open(run)
            store.ledger.delete_images([victim])
            store.close()
        return out

    monkeypatch.setattr(pd, "read_sql_query", read_then_commit)
    frames = load_run(run)
    row = frames.images.set_index("key").loc[victim]
    assert row["q"] == 0.0  # the snapshot of the images query: its scores were there too
    monkeypatch.undo()
    assert victim not in set(load_run(run).images["key"])  # the next read sees the commit
