"""Ray with 2 workers against 1 on a CPU-bound sweep, in alternating rounds.

The worker pools live side by side on one local Ray instance (each reserves a share of the
CPUs; only one works at a time). As the executor sizes them by default, one worker gets all
the cores as torch threads and each of two workers half; one worker with a single thread is
measured too, since on a busy machine a multi-threaded worker can lose far more to waiting
for its threads than it gains. Workers are started and the model
loaded before timing; a round is the executor's own time from the first batch handed out to
the last image written by the driver.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.bench.generate import PROMPTS
from audit.config import SweepSpec
from audit.generate.request import GenerationRequest

Config = tuple[int, int]  # (workers, torch threads per worker)


@dataclass
class RayBench:
    cores: float
    images: int
    size: int
    steps: int
    batch_size: int
    ips: dict[Config, float]  # images/s over all rounds
    seconds: dict[Config, list[float]]  # per round

    def ratio(self, a: Config, b: Config) -> float:
        """Median over rounds of (seconds of b / seconds of a): how much faster a is."""
        ordered = sorted(y / x for x, y in zip(self.seconds[a], self.seconds[b], strict=True))
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def round_ratios(self, a: Config, b: Config) -> list[float]:
        return [y / x for x, y in zip(self.seconds[a], self.seconds[b], strict=True)]


def _sweep(
    folder: Path, images: int, size: int, steps: int, batch_size: int
) -> tuple[SweepSpec, list[GenerationRequest]]:
    from audit.sweep import plan

    (folder / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    seeds = list(range(max(1, images // len(PROMPTS))))
    spec = SweepSpec.model_validate(
        {
            "name": "raybench",
            "models": [{"id": "tiny", "source": "builtin:tiny-random-sd"}],
            "samplers": ["ddim"],
            "steps": [steps],
            "guidance": [5.0],
            "seeds": seeds,
            "suites": ["prompts.txt"],
            "size": size,
            "batch_size": batch_size,
            "runtime": {"device": "cpu"},
        }
    )
    return spec, plan(spec, folder)


def bench_ray(
    *,
    images: int = 32,
    size: int = 64,
    steps: int = 10,
    batch_size: int = 4,
    rounds: int = 2,
) -> RayBench:
    from audit.execute.ray import RayExecutor, import_ray
    from audit.store.run_store import RunStore

    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        # 2 workers and 1 worker sized as the executor sizes them (cores / workers threads
        # each), and 1 worker with 1 thread: the same work per thread as each of the two.
        configs: list[Config] = [(2, max(1, int(cpus // 2))), (1, max(1, int(cpus))), (1, 1)]
        configs = list(dict.fromkeys(configs))  # on 1 core the last two are the same
        share = cpus / sum(n for n, _ in configs)  # all pools fit side by side
        pools = {c: RayExecutor(workers=c[0], threads=c[1], cpus_per_worker=share) for c in configs}
        seconds: dict[Config, list[float]] = {c: [] for c in configs}
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="t2i-raybench-")))
            for pool in pools.values():
                stack.enter_context(pool)
            spec, requests = _sweep(tmp, images, size, steps, batch_size)
            for c, pool in pools.items():  # start the workers, load the model on each
                warm = RunStore(tmp / f"warm-{c[0]}x{c[1]}", create=True)
                pool.run(spec, tmp, requests[: 2 * batch_size], _saver(warm))
                warm.close()
            for r in range(rounds):
                for c in configs if r % 2 == 0 else configs[::-1]:
                    store = RunStore(tmp / f"round{r}-{c[0]}x{c[1]}", create=True)
                    pools[c].run(spec, tmp, requests, _saver(store))
                    store.close()
                    seconds[c].append(pools[c].stats.seconds)
        ips = {c: len(requests) * rounds / sum(s) for c, s in seconds.items()}
        return RayBench(cpus, len(requests), size, steps, batch_size, ips, seconds)
    finally:
        if started:
            ray.shutdown()


def _saver(store: Any) -> Any:
    def save(res: Any) -> None:
        store.save_image(
            res.request.key, res.png, gen_seconds=res.seconds, peak_mem_mb=res.peak_mem_mb,
            nan_or_black=res.nan_or_black, safety_flag=res.safety_flag, origin="generated",
        )  # fmt: skip

    return save


# --- the control: plain processes, no Ray ----------------------------------------------------


@dataclass
class ProcessBench:
    images: int
    seconds: dict[int, list[float]]  # processes -> wall seconds per round (same images)

    @property
    def ratio(self) -> float:
        """Median over rounds of (1-process seconds / 2-process seconds)."""
        ordered = sorted(a / b for a, b in zip(self.seconds[1], self.seconds[2], strict=True))
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _process_main(conn: Any, size: int, steps: int, batch_size: int, images: int) -> None:
    import time

    import torch

    from audit.bench.generate import _requests
    from audit.config import ModelSpec, RuntimeSpec
    from audit.generate.diffusers_backend import DiffusersGenerator

    torch.set_num_threads(1)
    model = ModelSpec(id="tiny", source="builtin:tiny-random-sd")
    gen = DiffusersGenerator(model, RuntimeSpec(), None, "cpu")
    reqs = _requests(model.source, "float32", size, steps, images, 0)
    gen.generate(reqs[:batch_size])
    conn.send("ready")
    while (n := conn.recv()) is not None:
        start = time.perf_counter()
        for i in range(0, n, batch_size):
            gen.generate(reqs[i : min(i + batch_size, n)])
        conn.send(time.perf_counter() - start)


def bench_processes(
    *, images: int = 16, size: int = 64, steps: int = 10, batch_size: int = 4, rounds: int = 2
) -> ProcessBench:
    """The same images split over 2 plain processes (1 torch thread each) against 1: what
    parallelism this machine offers right now, to read the Ray ratio against."""
    import multiprocessing as mp
    import time

    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(2):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_process_main, args=(there, size, steps, batch_size, images))
        proc.start()
        pipes.append(here)
        procs.append(proc)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    try:
        for p in pipes:
            p.recv()  # model loaded and warm
        for r in range(rounds):
            for k in (1, 2) if r % 2 == 0 else (2, 1):
                start = time.perf_counter()
                for p in pipes[:k]:
                    p.send(images // k)
                for p in pipes[:k]:
                    p.recv()
                seconds[k].append(time.perf_counter() - start)
    finally:
        for p in pipes:
            p.send(None)
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return ProcessBench(images, seconds)
