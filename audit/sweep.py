"""`t2i-audit run`: spec -> requests -> (resume) -> images -> timing pass -> scores.

The no-op path (every request already has its image and every cell its timing record)
imports no torch and loads no model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audit.config import SweepSpec
from audit.errors import UserError
from audit.generate.models import check_model_sources, fingerprint, native_scheduler, native_size
from audit.generate.native_size import ModelSize, model_sizes
from audit.generate.request import GenerationRequest, expand
from audit.generate.samplers import check_compatible, get_sampler
from audit.progress import progress, say
from audit.prompts import load_suite, suite_formats
from audit.scorers.runner import ScoreSummary, score_run
from audit.store.run_store import RunStore

if TYPE_CHECKING:
    from audit.execute.ray import RayExecutor


@dataclass
class RunResult:
    run_dir: Path
    total: int
    generated: int
    skipped: int
    seconds: float
    score: ScoreSummary | None = None  # None when the run did not score
    timed: int = 0  # cells the timing pass measured now
    notes: list[str] = field(default_factory=list)  # e.g. which format a suite was read in


def plan(spec: SweepSpec, base_dir: Path, spec_file: str = "<spec>") -> list[GenerationRequest]:
    check_model_sources(spec, base_dir, spec_file)
    for i, name in enumerate(spec.samplers):
        get_sampler(name, file=spec_file, field=f"samplers.{i}")
    suites = [load_suite(ref, base_dir) for ref in spec.suites]
    prints = {m.id: fingerprint(m.source, m.revision, base_dir) for m in spec.models}
    sizes = {k: (v.width, v.height) for k, v in plan_sizes(spec, base_dir, spec_file).items()}
    requests = list(expand(spec, suites, prints, sizes))
    keys = {r.key for r in requests}
    if len(keys) != len(requests):
        raise UserError(
            "two requests share a key: a prompt id appears twice across the suites",
            file=spec_file,
            field="suites",
            fix="give each prompt a unique id or drop the duplicated suite",
        )
    return requests


def plan_sizes(spec: SweepSpec, base_dir: Path, spec_file: str = "<spec>") -> dict[str, ModelSize]:
    """Each model's image size: the spec's, or the model's native one (read from configs)."""
    native = {m.id: native_size(m.source, m.revision, base_dir) for m in spec.models}
    return model_sizes(spec, native, spec_file)


def check_models(spec: SweepSpec, base_dir: Path, model_ids: set[str], spec_file: str) -> None:
    """Incompatible model/sampler pairs fail before any image is made."""
    for i, model in enumerate(spec.models):
        if model.id not in model_ids:
            continue
        try:
            native = native_scheduler(model.source, model.revision, base_dir)
        except UserError as exc:
            if exc.file is None:  # e.g. a hub id that cannot be read: name the spec entry
                exc.file, exc.field = spec_file, f"models.{i}.source"
            raise
        for name in spec.samplers:
            check_compatible(get_sampler(name), native, model.id, file=spec_file)


def vanished_images(run_dir: Path, done: dict[str, str]) -> list[str]:
    """Keys of recorded images (key -> path relative to the run) whose file is gone."""
    return [k for k, rel in done.items() if not (run_dir / rel).is_file()]


def pending(store: RunStore, requests: Sequence[GenerationRequest]) -> list[GenerationRequest]:
    """Requests without an image on disk. A recorded image whose file vanished is redone."""
    done = store.ledger.image_paths()
    vanished = vanished_images(store.dir, done)
    if vanished:
        store.ledger.delete_images(vanished)
        for k in vanished:
            done.pop(k)
    return [r for r in requests if r.key not in done]


def run_sweep(
    spec: SweepSpec,
    base_dir: Path,
    out_root: Path,
    *,
    spec_file: str = "<spec>",
    fresh: bool = False,
    quiet: bool = False,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    score: bool = True,
    wait: float | None = None,
    retime: bool = False,
) -> RunResult:
    """`wait`: seconds to wait for another writer of this run (None: fail at once, naming it).
    `retime`: time every cell again, even those whose timing record is still current."""
    start = time.perf_counter()
    requests = plan(spec, base_dir, spec_file)
    formats = suite_formats(spec.suites, base_dir)
    size_notes = [n for s in plan_sizes(spec, base_dir, spec_file).values() if (n := s.note())]
    run_dir = out_root / spec.name
    if fresh:
        # Every request will be made again: check every model before discarding anything.
        check_models(spec, base_dir, {m.id for m in spec.models}, spec_file)
    # Wiped (--fresh) only once this process holds the run's writer lock.
    store = RunStore(run_dir, create=True, fresh=fresh, wait=wait)
    try:
        if store.lock.took_over:
            say(
                f"took over the lock of {store.lock.took_over.describe()}, which is gone",
                quiet=quiet,
            )
        store.ledger.upsert_requests((r.ledger_row() for r in requests), deactivate_others=True)
        todo = pending(store, requests)
        # One Ray executor for generation and the timing pass: the workers stay up between.
        ray = _ray_executor(spec, address, workers) if executor == "ray" else None
        with ray or contextlib.nullcontext():
            if todo:
                check_models(spec, base_dir, {r.model_id for r in todo}, spec_file)
                _generate(spec, base_dir, store, todo, quiet=quiet, ray=ray)
            else:
                say(f"all {len(requests)} images are already in {run_dir}", quiet=quiet)
            # After generation, before scoring: nothing else of this run competes with it.
            timed = _time_cells(
                spec, base_dir, store, requests, spec_file, quiet=quiet, force=retime, ray=ray
            )
        store.write_info(
            spec=spec.model_dump(mode="json"),
            spec_file=spec_file,
            spec_dir=str(base_dir.resolve()),  # where its suites are: `verify --repair` re-plans
            status="complete",
            requests=len(requests),
            suite_formats=formats,
            notes=size_notes,
        )
        summary = None
        if score and spec.scorers:
            summary = score_run(
                store,
                spec.scorers,
                spec_file=spec_file,
                quiet=quiet,
                workers=workers,  # scoring processes (or Ray actors) too
                executor=executor,
                address=address,
            )
    finally:
        store.close()
    return RunResult(
        run_dir,
        len(requests),
        len(todo),
        len(requests) - len(todo),
        time.perf_counter() - start,
        summary,
        timed,
        notes=[f["note"] for f in formats if "note" in f] + size_notes,
    )


def _time_cells(
    spec: SweepSpec,
    base_dir: Path,
    store: RunStore,
    requests: Sequence[GenerationRequest],
    spec_file: str,
    *,
    quiet: bool,
    force: bool,
    ray: RayExecutor | None = None,
) -> int:
    """The timing pass of every cell whose record is missing or stale, on this machine or
    a Ray worker (as generation ran); returns how many."""
    from audit.generate.timing import due_cells

    due = due_cells(spec, requests, store.ledger.timing_identities(), force=force)
    if not due:
        return 0
    from audit.environment import pick_device
    from audit.generate.timing import CellTiming, run_timing
    from audit.scorers.efficiency import EfficiencyScorer

    check_models(spec, base_dir, {d.requests[0].model_id for d in due}, spec_file)
    bar = progress(len(due), f"timing {spec.name}", quiet=quiet)

    def on_timing(result: CellTiming) -> None:
        # The efficiency scores of the cell are computed again from the new record.
        stale = (EfficiencyScorer.name,)
        store.ledger.record_timing(result.cell, result.identity, result.record(), stale=stale)
        bar.update(1)

    try:
        if ray is not None:  # the cluster's device, chosen there
            ray.time_cells(spec, base_dir, due, on_timing)
        else:
            run_timing(spec, base_dir, due, pick_device(spec.runtime.device), on_timing)
    finally:
        bar.close()
    return len(due)


def _generate(
    spec: SweepSpec,
    base_dir: Path,
    store: RunStore,
    todo: list[GenerationRequest],
    *,
    quiet: bool,
    ray: RayExecutor | None = None,
) -> None:
    """Make `todo` on this machine, or on `ray`'s workers."""
    from audit.environment import pick_device
    from audit.generate.diffusers_backend import GeneratedImage

    device = pick_device(spec.runtime.device)
    dtypes = sorted({m.dtype for m in spec.models})
    store.write_info(
        spec=spec.model_dump(mode="json"),
        spec_dir=str(base_dir.resolve()),
        status="running",
        device=device,
        dtype=dtypes[0] if len(dtypes) == 1 else dtypes,
        executor="local" if ray is None else "ray",
        peak_mem_source="cuda max_memory_allocated" if device == "cuda" else "process max RSS",
    )
    signer = _signer(spec, base_dir)
    bar = progress(len(todo), f"generating {spec.name}", quiet=quiet)

    def on_result(result: GeneratedImage) -> None:
        data = signer(result.png) if signer else result.png
        store.save_image(
            result.request.key,
            data,
            gen_seconds=result.seconds,
            peak_mem_mb=result.peak_mem_mb,
            nan_or_black=result.nan_or_black,
            safety_flag=result.safety_flag,
            origin="generated",
        )
        bar.update(1)

    try:
        if ray is not None:
            ray.run(spec, base_dir, todo, on_result)
        else:
            from audit.execute.local import LocalExecutor

            LocalExecutor(device).run(spec, base_dir, todo, on_result)
    finally:
        bar.close()


def _ray_executor(spec: SweepSpec, address: str | None, workers: int | None) -> RayExecutor:
    """Connects when first used; the workers' device is the cluster's (`plan_workers`)."""
    from audit.execute.ray import RayExecutor

    return RayExecutor(address=address, device=spec.runtime.device, workers=workers)


def _signer(spec: SweepSpec, base_dir: Path):  # type: ignore[no-untyped-def]
    sign = spec.provenance.sign
    if sign is None:
        return None
    from audit.provenance.sign import sign_image

    cert = (base_dir / sign.cert).read_bytes()
    key = (base_dir / sign.key).read_bytes()

    def apply(png: bytes) -> bytes:
        return sign_image(png, "image/png", cert, key, sign.alg, sign.claim_generator, xmp=sign.xmp)

    return apply
