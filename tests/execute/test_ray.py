"""The Ray executor against the local one: same keys, same pixels, nothing lost to a dead worker.

Ray runs locally here (`ray.init(num_cpus=2)`), as in CI. Each sweep is 24 images of the
tiny random model at 32 px and 2 steps, in 12 batches over two models.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from audit.cli import main
from audit.config import SweepSpec
from audit.errors import UserError
from audit.execute.ray import BatchQueue, RayExecutor
from audit.generate.request import GenerationRequest
from audit.store.ledger import Ledger

SPEC = """\
name: raysweep
models:
  - id: tiny-a
    source: builtin:tiny-random-sd
  - id: tiny-b
    source: builtin:tiny-random-sd
samplers: [ddim, euler]
steps: [2]
guidance: [5.0]
seeds: [0, 1]
suites: [prompts.txt]
size: 32
batch_size: 2
runtime: {device: cpu}
timing: {repeats: 1, warmup: 0}  # one timed image per cell: where it ran is what is checked
"""
PROMPTS = "a red cube on a table\na sign that says 'OPEN'\ntwo dogs in a park\n"
N = 24


def _write_spec(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.txt").write_text(PROMPTS)
    (folder / "spec.yaml").write_text(SPEC)
    return folder / "spec.yaml"


def _images(run: Path) -> dict[str, Path]:
    conn = sqlite3.connect(run / "ledger.sqlite")
    try:
        return {k: run / p for k, p in conn.execute("SELECT key, path FROM images")}
    finally:
        conn.close()


def _timings(run: Path) -> list[dict[str, Any]]:
    ledger = Ledger(run / "ledger.sqlite", readonly=True)
    try:
        return ledger.timings()
    finally:
        ledger.close()


def _assert_same_pixels(a: Path, b: Path) -> None:
    """Equal up to float rounding: every pixel within 2 levels, at most 0.5% differ."""
    x = np.asarray(Image.open(a), dtype=np.int16)
    y = np.asarray(Image.open(b), dtype=np.int16)
    diff = np.abs(x - y)
    assert diff.max() <= 2, (a.name, int(diff.max()))
    assert (diff > 0).mean() <= 0.005, (a.name, float((diff > 0).mean()))


@pytest.fixture(scope="module")
def ray_local(model_cache: Path) -> Any:
    ray = pytest.importorskip("ray")
    # The workers inherit this process's environment (the model cache) from here on.
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local")
    spec = _write_spec(folder)
    assert main(["run", str(spec), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out" / "raysweep"


class _Recorder:
    """Replaces RayExecutor in audit.sweep: counts results per key, may kill a worker."""

    def __init__(self, kill_after: int | None = None) -> None:
        self.kill_after = kill_after
        self.keys: Counter[str] = Counter()
        self.executors: list[RayExecutor] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        recorder = self

        class Recording(RayExecutor):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                recorder.executors.append(self)

            def run(self, spec: SweepSpec, base_dir: Path, requests: Any, on_result: Any) -> None:
                def record(result: Any) -> None:
                    on_result(result)
                    recorder.keys[result.request.key] += 1
                    if sum(recorder.keys.values()) == recorder.kill_after:
                        import ray

                        ray.kill(self.live_workers()[0])

                super().run(spec, base_dir, requests, record)

        monkeypatch.setattr("audit.execute.ray.RayExecutor", Recording)


@pytest.mark.slow
def test_ray_sweep_matches_local(
    ray_local: Any, local_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _Recorder()
    rec.install(monkeypatch)
    spec = _write_spec(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "-q"]) == 0
    run = tmp_path / "out" / "raysweep"
    local, remote = _images(local_run), _images(run)
    assert len(remote) == N and set(remote) == set(local)
    for key in local:
        _assert_same_pixels(local[key], remote[key])
    assert main(["verify", str(run)]) == 0
    stats = rec.executors[0].stats
    assert stats.workers == 2 and stats.threads == 1  # 2 workers on 2 cores, 1 thread each
    assert set(rec.keys.values()) == {1}
    # Two models, two workers, twelve batches: each worker loads a model once, and at most
    # one of them moves on to the other model's leftovers.
    assert sorted(stats.model_loads.values()) in ([1, 1], [1, 2])
    # The timing pass ran on one Ray worker with a generation worker's share (1 of 2 cores),
    # not in this process; the local run timed its cells here.
    assert [(r["executor"], r["torch_threads"]) for r in _timings(run)] == [("ray", 1)] * 4
    assert {r["executor"] for r in _timings(local_run)} == {"local"}


@pytest.mark.slow
def test_killed_worker_loses_and_duplicates_nothing(
    ray_local: Any, local_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _Recorder(kill_after=2)
    rec.install(monkeypatch)
    spec = _write_spec(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "-q"]) == 0
    run = tmp_path / "out" / "raysweep"
    stats = rec.executors[0].stats
    assert stats.workers_lost == 1 and stats.retried >= 1  # the kill landed mid-sweep
    assert sum(rec.keys.values()) == N and set(rec.keys.values()) == {1}  # each image once
    images = _images(run)
    assert len(images) == N and len(set(images.values())) == N
    assert len(list((run / "images").rglob("*.png"))) == N
    assert main(["verify", str(run)]) == 0
    local = _images(local_run)
    for key in local:
        _assert_same_pixels(local[key], images[key])


@pytest.mark.slow
def test_a_timing_worker_that_dies_exits_2_and_the_rerun_times_the_rest(
    ray_local: Any,
    local_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "out" / "raysweep"
    shutil.copytree(local_run, run)
    with sqlite3.connect(run / "ledger.sqlite") as conn:
        conn.execute("DELETE FROM timings")  # every cell due; the images are all there
    conn.close()

    class Killing(RayExecutor):
        def time_cells(self, spec: SweepSpec, base_dir: Path, due: Any, on_timing: Any) -> None:
            def record(result: Any) -> None:
                on_timing(result)
                import ray

                ray.kill(self.live_workers()[0])  # after the first cell's record is stored

            super().time_cells(spec, base_dir, due, record)

    monkeypatch.setattr("audit.execute.ray.RayExecutor", Killing)
    spec = _write_spec(tmp_path)
    argv = ["run", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "-q"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the Ray worker timing the cells died" in err and "fix: run the same command" in err
    assert len(_timings(run)) == 1  # the cell timed before the kill is kept
    monkeypatch.setattr("audit.execute.ray.RayExecutor", RayExecutor)
    assert main(argv) == 0
    assert [r["executor"] for r in _timings(run)] == ["ray"] * 4


@pytest.mark.slow
def test_ray_resume_redoes_only_missing_images(
    ray_local: Any, local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run made locally, three images deleted, resumed through Ray."""
    spec = _write_spec(tmp_path)
    run = tmp_path / "out" / "raysweep"
    shutil.copytree(local_run, run)
    victims = sorted(_images(run).items())[::9]
    originals = {k: p.read_bytes() for k, p in victims}
    for _, p in victims:
        p.unlink()
    capsys.readouterr()
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "-q"]) == 0
    assert (
        f"({len(victims)} generated, {N - len(victims)} already there)" in capsys.readouterr().out
    )
    assert main(["verify", str(run)]) == 0
    for key, path in victims:
        (tmp_path / "orig.png").write_bytes(originals[key])
        _assert_same_pixels(tmp_path / "orig.png", path)


def test_missing_ray_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    spec = _write_spec(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "-q"]) == 2
    err = capsys.readouterr().err
    assert "pip install 't2i-audit[ray]'" in err and "Traceback" not in err


# --- the pieces, without Ray ----------------------------------------------------------------


def _requests(models: list[str], per_model: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            model_id=m,
            model_source="builtin:tiny-random-sd",
            model_fingerprint="f",
            dtype="float32",
            sampler="ddim",
            steps=2,
            guidance=5.0,
            width=32,
            height=32,
            seed=i,
            suite="s",
            prompt_id=f"p{i}",
            prompt="x",
            negative_prompt="",
        )  # fmt: skip
        for m in models
        for i in range(per_model)
    ]


def test_queue_keeps_each_worker_on_one_model() -> None:
    queue = BatchQueue(_requests(["a", "b"], 8), batch_size=2)  # 4 batches per model
    assert len(queue) == 8
    current: list[str | None] = [None, None]
    taken: list[list[str]] = [[], []]
    for step in range(8):
        w = step % 2
        batch = queue.take(current[w], Counter(m for m in current if m))
        assert batch is not None
        current[w] = batch.model_id
        taken[w].append(batch.model_id)
    assert {tuple(set(t)) for t in taken} == {("a",), ("b",)}
    assert queue.take("a", Counter()) is None


def test_put_back_batch_is_next_and_counts_attempts() -> None:
    queue = BatchQueue(_requests(["a"], 6), batch_size=2)
    first = queue.take(None, Counter())
    assert first is not None and [r.seed for r in first.requests] == [0, 1]
    queue.put_back(first)
    again = queue.take("a", Counter())
    assert again is first and again.attempts == 1


def _spec(device: str = "auto") -> SweepSpec:
    return SweepSpec.model_validate(
        {"name": "x", "models": [{"id": "m", "source": "builtin:tiny-random-sd"}],
         "samplers": ["ddim"], "steps": [2], "guidance": [1.0], "seeds": [0],
         "suites": ["s.txt"], "runtime": {"device": device}}
    )  # fmt: skip


def test_worker_sizing_splits_cores_between_workers() -> None:
    two = RayExecutor().plan_workers(_spec(), {"CPU": 2.0}, n_batches=12)
    assert (two.device, two.workers, two.options, two.threads) == ("cpu", 2, {"num_cpus": 1.0}, 1)
    one = RayExecutor(workers=1).plan_workers(_spec(), {"CPU": 2.0}, n_batches=12)
    assert (one.workers, one.options, one.threads) == (1, {"num_cpus": 2.0}, 2)
    few = RayExecutor().plan_workers(_spec(), {"CPU": 8.0}, n_batches=3)
    assert (few.workers, few.threads) == (3, 2)  # no more workers than batches
    gpu = RayExecutor().plan_workers(_spec(), {"CPU": 16.0, "GPU": 2.0}, n_batches=12)
    assert (gpu.device, gpu.workers, gpu.options["num_gpus"], gpu.threads) == ("cuda", 2, 1, 8)
    with pytest.raises(UserError, match="no GPU"):
        RayExecutor().plan_workers(_spec("cuda"), {"CPU": 4.0}, n_batches=12)
