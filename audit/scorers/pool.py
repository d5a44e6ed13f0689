"""Scoring on worker processes (or Ray actors): each builds a scorer once and takes batches.

The driver (`audit.scorers.runner`) decides what is scored, in which batches and in which
order, and alone writes the ledger. A worker gets plain data (`WorkItem`: key, image path,
prompt, expectations as JSON, request row) with the recipe of its scorer (`Recipe`: class
and options), builds the scorer the first time it sees that recipe and keeps it, and sends
back per batch one value dict per image, or an `Unreadable` marker for an image that does not
decode. Results come back in the order the batches were handed out, so the ledger is written
in the same order, with the same values, as by one process.

Two pools, one worker class (`ScoringWorker`):

* `ProcessPool` — `N` processes of this machine (spawn context: no inherited locks or thread
  pools), each limited to max(1, cores // N) threads (torch, BLAS/OpenMP, and a scorer's own
  `threads` option when it is 0 = "all cores"), so workers do not oversubscribe the CPU.
* `RayPool` — `N` Ray actors (`--executor ray`), one CPU slot each by default.

A worker that dies (killed, out of memory) fails the scoring with `WorkerDied`; what the
driver wrote before stays written, and the same command scores the rest. A worker whose
driver was killed exits on its own (it watches its parent).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from audit.errors import UserError
from audit.scorers.base import ImageScorer, ScoreItem, ScorerOptions, SetScorer, Value

EXECUTORS = ("local", "ray")
# Batches in flight per worker: one running, one queued behind it, so no worker waits.
IN_FLIGHT = 2
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


WORKERS_VARIABLE = "T2I_AUDIT_WORKERS"  # the default of --workers, where a host sets one


def default_workers() -> int:
    """Scoring processes when none are asked for: $T2I_AUDIT_WORKERS, else the cores."""
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return cores()
    if not raw.isdigit() or int(raw) < 1:
        raise UserError(
            f"{WORKERS_VARIABLE}={raw!r} is not a whole number of 1 or more",
            field=WORKERS_VARIABLE,
            fix=f"set {WORKERS_VARIABLE} to 1 or more, or unset it (default: the cores)",
        )
    return int(raw)


def check_workers(workers: int | None, *, field: str = "workers") -> int | None:
    """`workers` as given (None = the default), or a UserError naming the field and fix."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(
            f"scoring workers must be a whole number, 1 or more; got {workers!r}",
            field=field,
            fix=f"give 1 (score in this process) or more; the default is {default_text()}",
        )
    return workers


def default_text() -> str:
    """The default of `workers` in words, as it stands in this environment."""
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if raw:
        return f"${WORKERS_VARIABLE} ({raw} here)"
    return f"the number of cores ({cores()} here)"


def check_executor(executor: str, *, field: str = "executor") -> str:
    if executor not in EXECUTORS:
        raise UserError(
            f"unknown executor {executor!r}",
            field=field,
            fix=f"use one of: {', '.join(EXECUTORS)}",
        )
    return executor


def threads_per_worker(workers: int, available: int | None = None) -> int:
    return max(1, (available or cores()) // max(1, workers))


class WorkerDied(UserError):
    """A scoring worker process or actor ended while it held batches."""


# --- what travels to a worker ----------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How a worker builds a scorer: its class (pickled by reference) and its options."""

    cls: type[ImageScorer[Any]] | type[SetScorer[Any]]
    options: ScorerOptions

    @classmethod
    def of(cls, scorer: ImageScorer[Any] | SetScorer[Any]) -> Recipe:
        return cls(type(scorer), scorer.options)

    @property
    def key(self) -> str:
        return f"{self.cls.__module__}:{self.cls.__qualname__}|{self.options.model_dump_json()}"

    def build(self, threads: int) -> ImageScorer[Any] | SetScorer[Any]:
        """The scorer, with an options field `threads` left at 0 ("all cores") set to this
        worker's share (`threads` is never part of a score's identity)."""
        options = self.options
        if "threads" in type(options).model_fields and getattr(options, "threads", None) == 0:
            options = options.model_copy(update={"threads": threads})
        return self.cls(options)


@dataclass
class WorkItem:
    """One image as plain data; `image` carries a decoded picture that has no file
    (`audit.score` on images in memory)."""

    key: str
    image_path: str
    prompt_text: str
    prompt_id: str
    expect_json: str | None
    request: dict[str, Any] = field(default_factory=dict)
    image: Any = None

    @classmethod
    def of(cls, item: ScoreItem) -> WorkItem:
        expect = item.expect
        path = Path(item.image_path)
        in_memory = item._image is not None and not path.is_file()
        return cls(
            key=item.key,
            image_path=str(path),
            prompt_text=item.prompt_text,
            prompt_id=item.prompt_id,
            expect_json=expect.model_dump_json() if hasattr(expect, "model_dump_json") else None,
            request=dict(item.request),
            image=item._image if in_memory else None,
        )

    def item(self) -> ScoreItem:
        from audit.prompts.model import Expectations

        expect = (
            Expectations.model_validate_json(self.expect_json)
            if self.expect_json is not None
            else None
        )
        return ScoreItem(
            key=self.key,
            image_path=Path(self.image_path),
            prompt_text=self.prompt_text,
            prompt_id=self.prompt_id,
            expect=expect,
            request=self.request,
            _image=self.image,
        )


@dataclass(frozen=True)
class Unreadable:
    """An image that did not decode in the worker; `problem` says why (as `ImageUnreadable`)."""

    problem: str


@dataclass(frozen=True)
class _Failed:
    """A UserError raised in a worker, sent back field by field (it pickles badly)."""

    problem: str
    file: str | None
    field: str | None
    fix: str | None

    def error(self) -> UserError:
        return UserError(self.problem, file=self.file, field=self.field, fix=self.fix)


ImageResult = list[dict[str, Value] | Unreadable]
SetResult = tuple[Any, list[Unreadable | None]]  # partial state (None: none readable), markers


# --- the worker ------------------------------------------------------------------------------


class ScoringWorker:
    """Lives in a worker process or a Ray actor; keeps the scorer of the last recipe."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        limit_threads(self.threads)
        self._key: str | None = None
        self._scorer: Any = None

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "threads": self.threads}

    def _scorer_for(self, recipe: Recipe) -> Any:
        if recipe.key != self._key:
            self._scorer = None  # drop the previous model before loading the next
            self._scorer = recipe.build(self.threads)
            self._key = recipe.key
        _limit_torch(self.threads)  # torch may have been imported by the scorer just now
        return self._scorer

    def score_images(self, recipe: Recipe, batch: list[WorkItem]) -> ImageResult | _Failed:
        try:
            scorer = self._scorer_for(recipe)
            items = [w.item() for w in batch]
            marks, readable = _decode(items, scorer.reads_pixels())
            values = iter(scorer.score_batch(readable) if readable else [])
            out: ImageResult = [m if m is not None else next(values) for m in marks]
            return out
        except UserError as exc:
            return _Failed(exc.problem, exc.file, exc.field, exc.fix)

    def set_partial(self, recipe: Recipe, chunk: list[WorkItem]) -> SetResult | _Failed:
        try:
            scorer = self._scorer_for(recipe)
            items = [w.item() for w in chunk]
            marks, readable = _decode(items, scorer.reads_pixels())
            state = scorer.partial(readable) if readable else None
            return state, marks
        except UserError as exc:
            return _Failed(exc.problem, exc.file, exc.field, exc.fix)


def _decode(items: Sequence[ScoreItem], check: bool) -> tuple[list[Unreadable | None], list[Any]]:
    """As the runner's in-process check: decode each image once; those that fail are marked."""
    from audit.store.images import ImageUnreadable

    marks: list[Unreadable | None] = []
    readable = []
    for it in items:
        if check:
            try:
                it.image()
            except ImageUnreadable as exc:
                marks.append(Unreadable(exc.problem))
                continue
        marks.append(None)
        readable.append(it)
    return marks, readable


def limit_threads(n: int) -> None:
    """Thread pools of this process to `n` threads: OpenMP/BLAS through the environment
    (read when those libraries load), torch directly if it is loaded."""
    for name in THREAD_ENV:
        os.environ[name] = str(n)
    _limit_torch(n)


def _limit_torch(n: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


# --- process pool ----------------------------------------------------------------------------

_WORKER: ScoringWorker | None = None


def _init_process(threads: int, parent: int) -> None:
    import signal

    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _WORKER = ScoringWorker(threads)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit when the driver is gone (kill -9 leaves no one to shut the pool down)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _call(method: str, recipe: Recipe, payload: list[WorkItem]) -> Any:
    assert _WORKER is not None, "not a scoring worker process"
    return getattr(_WORKER, method)(recipe, payload)


def _died(what: str, workers: int, detail: str = "") -> WorkerDied:
    return WorkerDied(
        f"a scoring worker died while scoring {what}{detail}; the scores written before it "
        "died are kept",
        field="--workers",
        fix="run the same command again to score the rest; if a worker dies again, give "
        f"fewer workers (each holds its own copy of the model; now {workers}) or --workers 1",
    )


class _Ordered:
    """Hands out payloads with a bounded number in flight; yields results in order."""

    def __init__(self, submit: Callable[[Any], Any], wait: Callable[[Any], Any], depth: int):
        self.submit, self.wait, self.depth = submit, wait, depth

    def run(self, payloads: Iterable[Any]) -> Iterator[Any]:
        pending: deque[Any] = deque()
        source = iter(payloads)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.depth:
                nxt = next(source, _END)
                if nxt is _END:
                    exhausted = True
                else:
                    pending.append(self.submit(nxt))
            if not pending:
                return
            result = self.wait(pending.popleft())
            if isinstance(result, _Failed):
                raise result.error()
            yield result


_END = object()


class ProcessPool:
    """`workers` spawned processes of this machine; see the module docstring."""

    name = "local"

    def __init__(self, workers: int, threads: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self.threads = threads or threads_per_worker(workers)
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process,
            initargs=(self.threads, os.getpid()),
        )

    def map(self, method: str, recipe: Recipe, payloads: Iterable[list[WorkItem]]) -> Iterator[Any]:
        from concurrent.futures.process import BrokenProcessPool

        what = recipe.cls.name

        def wait(future: Any) -> Any:
            try:
                return future.result()
            except BrokenProcessPool:
                raise _died(what, self.workers) from None

        def submit(payload: list[WorkItem]) -> Any:
            try:
                return self._executor.submit(_call, method, recipe, payload)
            except BrokenProcessPool:
                raise _died(what, self.workers) from None

        yield from _Ordered(submit, wait, IN_FLIGHT * self.workers).run(payloads)

    def close(self, *, failed: bool = False) -> None:
        # After a failure, queued batches are dropped and nobody waits for the one running.
        self._executor.shutdown(wait=not failed, cancel_futures=True)


# --- Ray -------------------------------------------------------------------------------------


class RayPool:
    """`workers` Ray actors (default: one per CPU of the cluster), each a `ScoringWorker`."""

    name = "ray"

    def __init__(
        self, workers: int | None, address: str | None = None, ready_timeout: float = 600.0
    ) -> None:
        from audit.execute.ray import FORWARDED_ENV, import_ray

        ray = import_ray()
        self._ray: ModuleType = ray
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        try:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            self.workers = workers or max(1, int(cpus))
            per_cpu = cpus / self.workers  # as the generation workers are sized
            self.threads = max(1, int(per_cpu))
            options: dict[str, Any] = {"num_cpus": per_cpu}
            if address in (None, "local"):  # a local cluster: the driver's caches are valid
                env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
                if env:
                    options["runtime_env"] = {"env_vars": env}
            actor = ray.remote(ScoringWorker)
            self._actors = [
                actor.options(**options).remote(self.threads) for _ in range(self.workers)
            ]
            ready, late = ray.wait(
                [a.info.remote() for a in self._actors],
                num_returns=self.workers,
                timeout=ready_timeout,
            )
            if late:
                raise UserError(
                    f"{len(late)} of {self.workers} Ray scoring workers did not start within "
                    f"{ready_timeout:.0f} s (each asks for {options['num_cpus']:g} CPU)",
                    field="--workers",
                    fix="check `ray status` for free resources, or give fewer --workers",
                )
            ray.get(ready)
        except BaseException:
            self.close(failed=True)
            raise

    def map(self, method: str, recipe: Recipe, payloads: Iterable[list[WorkItem]]) -> Iterator[Any]:
        from audit.execute.ray import _lost_worker_errors

        ray = self._ray
        lost = _lost_worker_errors(ray)
        turn = iter(range(sys.maxsize))

        def submit(payload: list[WorkItem]) -> Any:
            actor = self._actors[next(turn) % len(self._actors)]  # round-robin: in order
            return getattr(actor, method).remote(recipe, payload)

        def wait(ref: Any) -> Any:
            try:
                return ray.get(ref)
            except lost as exc:
                raise _died(recipe.cls.name, self.workers, f" ({type(exc).__name__})") from None
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, BaseException):
                    raise cause from None
                raise

        yield from _Ordered(submit, wait, IN_FLIGHT * self.workers).run(payloads)

    def close(self, *, failed: bool = False) -> None:
        for actor in getattr(self, "_actors", []):
            with contextlib.suppress(Exception):  # already gone
                self._ray.kill(actor)
        self._actors = []
        if self._started:
            self._ray.shutdown()
            self._started = False


Pool = ProcessPool | RayPool


class LazyPool:
    """The pool of one `score_run`, started when a scorer first needs it and shared by the
    scorers after it (each worker keeps only the scorer of its latest batch)."""

    def __init__(self, workers: int, executor: str = "local", address: str | None = None):
        self.workers, self.executor, self.address = workers, executor, address
        self._pool: Pool | None = None

    @property
    def enabled(self) -> bool:
        return self.workers > 1

    def get(self) -> Pool:
        if self._pool is None:
            if self.executor == "ray":
                self._pool = RayPool(self.workers, self.address)
            else:
                self._pool = ProcessPool(self.workers)
        return self._pool

    def close(self, *, failed: bool = False) -> None:
        if self._pool is not None:
            self._pool.close(failed=failed)
            self._pool = None

    def __enter__(self) -> LazyPool:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.close(failed=kind is not None)


def runs_in_workers(scorer: ImageScorer[Any] | SetScorer[Any]) -> bool:
    """Whether a scorer's work may go to workers: it decodes pixels (the timings of
    `efficiency` are read from the ledger in no time), runs on the CPU (a scorer on a GPU
    stays in the driver: one process per GPU), and, for a set scorer, merges partial states."""
    if not scorer.reads_pixels():
        return False
    if isinstance(scorer, SetScorer) and not scorer.mergeable:
        return False
    if "device" in type(scorer.options).model_fields:
        from audit.environment import pick_device

        if pick_device(getattr(scorer.options, "device", None)) != "cpu":
            return False
    return True
