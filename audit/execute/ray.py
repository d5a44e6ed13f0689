"""Run requests on Ray actors: one per GPU, or one per CPU slot when the cluster has no GPU.

Each worker is an actor that keeps its pipeline loaded between batches. Batches are the local
executor's (ordered by model then cell, never spanning two cells), and the driver hands a
free worker more batches of the model it already holds while any remain, so workers change
models rarely. Results stream back batch by batch; the driver alone calls `on_result`, which
writes the image and its ledger row, so resume and crash safety are the local executor's.
A worker that dies (killed, out of memory, node lost) has its unfinished batches put back in
the queue and done by another worker; a batch that has killed `max_attempts` workers fails
the sweep rather than kill the whole cluster.

Images do not depend on the worker: every image is seeded from its own request, as locally.
Scoring runs after generation, on scoring actors of its own (`audit.scorers.pool.RayPool`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from audit.config import ModelSpec, RuntimeSpec, SweepSpec, TimingSpec
from audit.errors import UserError
from audit.execute.local import batches, order_for_execution
from audit.generate.request import GenerationRequest
from audit.generate.timing import CellTiming, DueCell, by_model, time_cell

# Environment a local worker needs to find the same model cache and stay offline.
FORWARDED_ENV = (
    "T2I_AUDIT_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "TORCH_HOME",
)


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise UserError(
            "the Ray executor needs the 'ray' package, which is not installed",
            field="--executor",
            fix="pip install 't2i-audit[ray]'  (or run with --executor local)",
        ) from None
    return ray


# --- the queue of batches (pure Python, no Ray) ---------------------------------------------


@dataclass
class Batch:
    model_id: str
    requests: list[GenerationRequest]
    attempts: int = 0  # workers lost while this batch was on them


class BatchQueue:
    """Batches grouped by model. A worker gets more of its current model while any remain;
    otherwise the model with the most batches left per worker already on it."""

    def __init__(self, requests: Sequence[GenerationRequest], batch_size: int) -> None:
        self._queues: dict[str, deque[Batch]] = {}
        for b in batches(order_for_execution(requests), batch_size):
            self._queues.setdefault(b[0].model_id, deque()).append(Batch(b[0].model_id, b))

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def take(self, current: str | None, workers_on: Counter[str]) -> Batch | None:
        if current is not None and self._queues.get(current):
            return self._queues[current].popleft()
        left = [m for m, q in self._queues.items() if q]
        if not left:
            return None
        # max() keeps the first of equals, i.e. sweep order.
        model = max(left, key=lambda m: len(self._queues[m]) / (1 + workers_on[m]))
        return self._queues[model].popleft()

    def put_back(self, batch: Batch) -> None:
        batch.attempts += 1
        self._queues[batch.model_id].appendleft(batch)


# --- the worker actor -----------------------------------------------------------------------


class GenerationWorker:
    """Lives in a Ray actor: keeps up to `keep_models` pipelines loaded (least recently used
    goes first) and makes one batch per call."""

    def __init__(self, device: str, threads: int, keep_models: int = 1) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.device = device
        self.keep_models = max(1, keep_models)
        self._generators: OrderedDict[str, Any] = OrderedDict()

    def info(self) -> dict[str, Any]:
        import torch

        return {"pid": os.getpid(), "threads": torch.get_num_threads(), "device": self.device}

    def _generator(self, model: ModelSpec, runtime: RuntimeSpec, base_dir: str | None) -> Any:
        key = f"{model.model_dump_json()}|{runtime.model_dump_json()}|{base_dir}"
        if key in self._generators:
            self._generators.move_to_end(key)
            return self._generators[key]
        while len(self._generators) >= self.keep_models:
            self._generators.popitem(last=False)
            _free_memory(self.device)
        from audit.generate.diffusers_backend import DiffusersGenerator

        base = Path(base_dir) if base_dir is not None else None
        gen = DiffusersGenerator(model, runtime, base, self.device)
        self._generators[key] = gen
        return gen

    def generate(
        self,
        model: ModelSpec,
        runtime: RuntimeSpec,
        base_dir: str | None,
        requests: list[GenerationRequest],
    ) -> list[Any]:
        return list(self._generator(model, runtime, base_dir).generate(requests))

    def time_cell(
        self,
        model: ModelSpec,
        runtime: RuntimeSpec,
        base_dir: str | None,
        due: DueCell,
        settings: TimingSpec,
    ) -> CellTiming:
        """One cell's timing pass on this worker's device (`audit.generate.timing`)."""
        return time_cell(self._generator(model, runtime, base_dir), due, settings, "ray")


def _free_memory(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


# --- the executor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerLayout:
    device: str
    workers: int
    options: dict[str, Any]  # Ray actor options: num_cpus, num_gpus
    threads: int  # torch threads in each worker


@dataclass
class _Slot:
    handle: Any
    index: int
    model: str | None = None  # the model of the last batch handed to it
    in_flight: int = 0
    alive: bool = True


@dataclass
class RunStats:
    """What the last `run` did; the benchmark reads `seconds`."""

    workers: int = 0
    threads: int = 0
    device: str = ""
    start_seconds: float = 0.0  # connecting and starting the workers
    seconds: float = 0.0  # first batch handed out -> last result written
    batches: int = 0
    retried: int = 0  # batches put back after their worker died
    workers_lost: int = 0
    model_loads: Counter[int] = field(default_factory=Counter)  # worker index -> model changes


class RayExecutor:
    """Same interface as `LocalExecutor`. Use as a context manager to keep the workers (and
    their loaded pipelines) across several `run` calls; otherwise each run starts and stops
    its own workers, and the Ray instance if it started one."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        device: str = "auto",
        *,
        workers: int | None = None,
        threads: int | None = None,
        cpus_per_worker: float | None = None,
        in_flight: int = 2,
        max_attempts: int = 3,
        keep_models: int = 1,
        ready_timeout: float = 600.0,
    ) -> None:
        self.address = address
        self.device = device  # the driver's view; the cluster's GPUs decide when spec says auto
        self.workers = workers
        self.threads = threads
        self.cpus_per_worker = cpus_per_worker
        self.in_flight = max(1, in_flight)
        self.max_attempts = max(1, max_attempts)
        self.keep_models = keep_models
        self.ready_timeout = ready_timeout
        self.stats = RunStats()
        self._ray: ModuleType | None = None
        self._started_ray = False
        self._slots: list[_Slot] = []
        self._layout: WorkerLayout | None = None
        self._held = False  # inside `with`: keep workers between runs

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> RayExecutor:
        self._held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._held = False
        self.close()

    def _connect(self) -> ModuleType:
        ray = import_ray()
        if not ray.is_initialized():
            # Worker output (per-worker progress bars) stays in Ray's logs; failures come
            # back as exceptions with the worker's traceback.
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            self._started_ray = True
        self._ray = ray
        return ray

    def close(self) -> None:
        """Stop the workers, and the Ray instance if this executor started it."""
        ray = self._ray
        if ray is None:
            return
        self._stop_workers()
        self._layout = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        self._ray = None

    # ----------------------------------------------------------------- sizing

    def plan_workers(
        self, spec: SweepSpec, resources: dict[str, float], n_batches: int
    ) -> WorkerLayout:
        """How many workers, on which device, with what resources, for this cluster and sweep."""
        cpus = float(resources.get("CPU", 1.0))
        gpus = int(resources.get("GPU", 0))
        wanted = spec.runtime.device
        device = wanted if wanted != "auto" else ("cuda" if gpus > 0 else "cpu")
        if device == "cuda":
            if gpus == 0:
                raise UserError(
                    "the spec asks for device cuda but the Ray cluster has no GPU",
                    field="runtime.device",
                    fix="start the cluster on GPU nodes, or set runtime.device: cpu",
                )
            n = self.workers or max(1, min(gpus, n_batches))
            per_cpu = self.cpus_per_worker or min(1.0, cpus / n)
            options: dict[str, Any] = {"num_gpus": 1, "num_cpus": per_cpu}
            threads = self.threads or max(1, int(cpus // n))
        else:
            n = self.workers or max(1, min(int(cpus), n_batches))
            per_cpu = self.cpus_per_worker or cpus / n
            options = {"num_cpus": per_cpu}
            threads = self.threads or max(1, math.floor(per_cpu))
        return WorkerLayout(device, n, options, threads)

    def _env(self) -> dict[str, str]:
        # A local cluster's workers share this machine, so the driver's cache paths are valid.
        if self.address not in (None, "local"):
            return {}
        return {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}

    def _start_workers(self, ray: ModuleType, layout: WorkerLayout, n: int) -> None:
        options = layout.options
        actor = ray.remote(GenerationWorker)
        env = self._env()
        if env:
            options = {**options, "runtime_env": {"env_vars": env}}
        first = len(self._slots) and max(s.index for s in self._slots) + 1
        new = [
            _Slot(
                actor.options(**options).remote(layout.device, layout.threads, self.keep_models),
                first + i,
            )
            for i in range(n)
        ]
        pending = {s.handle.info.remote(): s for s in new}
        ready, late = ray.wait(list(pending), num_returns=len(pending), timeout=self.ready_timeout)
        for ref in late:
            ray.kill(pending[ref].handle)
        if not ready:
            raise UserError(
                f"no Ray worker started within {self.ready_timeout:.0f} s "
                f"(each asks for {options.get('num_gpus', 0)} GPU, {options['num_cpus']} CPU)",
                field="--address",
                fix="check `ray status` for free resources on the cluster",
            )
        ray.get(ready)  # raises if a worker failed in its constructor
        self._slots += [pending[r] for r in ready]

    # ----------------------------------------------------------------- running

    def run(
        self,
        spec: SweepSpec,
        base_dir: Path,
        requests: Sequence[GenerationRequest],
        on_result: Callable[[Any], None],
    ) -> None:
        t0 = time.perf_counter()
        queue = BatchQueue(requests, spec.batch_size)
        if not len(queue):
            return
        ray = self._connect()
        ok = False
        try:
            layout = self.plan_workers(spec, ray.cluster_resources(), len(queue))
            if self._layout != layout:
                self._stop_workers()
                self._layout = layout
            self._slots = [s for s in self._slots if s.alive]
            if len(self._slots) < layout.workers:
                self._start_workers(ray, layout, layout.workers - len(self._slots))
            self.stats = RunStats(
                workers=len(self._slots),
                threads=layout.threads,
                device=layout.device,
                batches=len(queue),
            )
            self.stats.start_seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            self._drive(ray, spec, str(base_dir), queue, on_result)
            self.stats.seconds = time.perf_counter() - t1
            ok = True
        finally:
            if not ok or not self._held:
                self.close()

    def time_cells(
        self,
        spec: SweepSpec,
        base_dir: Path,
        due: Sequence[DueCell],
        on_timing: Callable[[CellTiming], None],
    ) -> None:
        """The timing pass of `due` on one worker with a generation worker's resources (one
        GPU, or one CPU slot), one cell at a time, while no batch runs anywhere."""
        if spec.timing is None or not due:
            return
        ray = self._connect()
        ok = False
        try:
            # Sized as for a sweep with work for every slot: one slot's share, which any
            # node can hold (a lone worker would be sized for the whole cluster).
            layout = self.plan_workers(spec, ray.cluster_resources(), n_batches=1 << 30)
            if self._layout != layout:
                self._stop_workers()
                self._layout = layout
            self._slots = [s for s in self._slots if s.alive]
            if not self._slots:
                self._start_workers(ray, layout, 1)
            worker = self._slots[0].handle
            models = {m.id: m for m in spec.models}
            lost = _lost_worker_errors(ray)
            for model_id, cells in by_model(due):
                for cell in cells:
                    ref = worker.time_cell.remote(
                        models[model_id], spec.runtime, str(base_dir), cell, spec.timing
                    )
                    try:
                        timed = ray.get(ref)
                    except lost as exc:  # no retry: a speed taken half on another worker
                        raise UserError(
                            f"the Ray worker timing the cells died ({type(exc).__name__}); "
                            "the images and the cells timed before it are kept",
                            field="--executor",
                            fix="run the same command again (without --retime it times only "
                            "the cells left)",
                        ) from None
                    on_timing(timed)
            ok = True
        finally:
            if not ok or not self._held:
                self.close()

    def _stop_workers(self) -> None:
        if self._ray is not None:
            for slot in self._slots:
                with contextlib.suppress(Exception):  # already gone
                    self._ray.kill(slot.handle)
        self._slots = []

    def live_workers(self) -> list[Any]:
        """Handles of the workers still in use (tests kill one to check the retry)."""
        return [s.handle for s in self._slots if s.alive]

    def _drive(
        self,
        ray: ModuleType,
        spec: SweepSpec,
        base_dir: str,
        queue: BatchQueue,
        on_result: Callable[[Any], None],
    ) -> None:
        lost_errors = _lost_worker_errors(ray)
        models = {m.id: m for m in spec.models}
        in_flight: dict[Any, tuple[_Slot, Batch]] = {}
        replacements = len(self._slots)

        def fill() -> None:
            # Round-robin, one batch per worker per pass, so the tail spreads evenly.
            for depth in range(self.in_flight):
                for slot in self._slots:
                    if not slot.alive or slot.in_flight > depth:
                        continue
                    on = Counter(s.model for s in self._slots if s.alive and s.model is not None)
                    batch = queue.take(slot.model, on)
                    if batch is None:
                        return
                    if batch.model_id != slot.model:
                        self.stats.model_loads[slot.index] += 1
                    slot.model = batch.model_id
                    ref = slot.handle.generate.remote(
                        models[batch.model_id], spec.runtime, base_dir, batch.requests
                    )
                    in_flight[ref] = (slot, batch)
                    slot.in_flight += 1

        fill()
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            slot, batch = in_flight.pop(ref)
            slot.in_flight -= 1
            try:
                results = ray.get(ref)
            except lost_errors:
                if slot.alive:
                    slot.alive = False
                    self.stats.workers_lost += 1
                    ray.kill(slot.handle)  # make sure a half-alive actor takes no more work
                if batch.attempts + 1 >= self.max_attempts:
                    raise RuntimeError(
                        f"a batch of {len(batch.requests)} images ({batch.model_id}) was on "
                        f"{batch.attempts + 1} workers that died; giving up"
                    ) from None
                queue.put_back(batch)
                self.stats.retried += 1
                if not any(s.alive for s in self._slots) and replacements > 0:
                    assert self._layout is not None
                    self._start_workers(ray, self._layout, 1)
                    replacements -= 1
                fill()
                if not in_flight and len(queue):
                    raise RuntimeError("every Ray worker died; finished images are kept") from None
                continue
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, UserError):
                    raise cause from None
                raise
            fill()  # hand out the next batch before writing, so the worker never waits
            for result in results:
                on_result(result)


def _lost_worker_errors(ray: ModuleType) -> tuple[type[BaseException], ...]:
    ex = ray.exceptions
    names = ("RayActorError", "WorkerCrashedError", "OutOfMemoryError", "NodeDiedError")
    return tuple(getattr(ex, n) for n in names if hasattr(ex, n))
