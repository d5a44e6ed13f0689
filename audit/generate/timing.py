"""The timing pass: each cell's speed measured on its own, not shared out from sweep batches.

`t2i-audit run` times the cells after generation and before scoring, so nothing else of the
run competes with it: per cell, `warmup` untimed batches, then `repeats` timed batches of a
fixed `batch_size`, made from the cell's own prompts and seeds (the images are discarded).
A record keeps the seconds per image of every timed batch, their median and spread, the
device, torch's thread count, where it ran and the load average when the cell was timed
(which counts this process's own recent work too: a sweep that just generated raises it).
With `--executor ray` the pass runs on one Ray worker with a generation worker's resources
(`audit.execute.ray`), so the speed is that of the devices the sweep ran on.

A record's identity is what decides the speed: the weights (fingerprint), dtype, the cell,
the runtime settings, the requested device and the pass settings. A rerun keeps a record
whose identity still matches; prompts and seeds are not part of it (they do not change the
work a pipeline call does).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.config import RuntimeSpec, SweepSpec, TimingSpec
from audit.generate.request import GenerationRequest
from audit.vocab import CELL

if TYPE_CHECKING:
    from audit.generate.diffusers_backend import DiffusersGenerator

TIMING_VERSION = 1  # bump when what a record measures changes: every cell is timed again


def cell_dict(request: GenerationRequest) -> dict[str, Any]:
    """The request's cell as the ledger keys set scores by (audit.vocab.CELL names)."""
    model, sampler, steps, guidance, width, height = request.cell
    values = (str(model), str(sampler), int(steps), float(guidance), int(width), int(height))
    return dict(zip(CELL, values, strict=True))


def timing_identity(
    request: GenerationRequest, runtime: RuntimeSpec, settings: TimingSpec, device: str
) -> str:
    """What decides a cell's speed (see the module docstring); `device` as the spec asks."""
    recipe = {
        "version": TIMING_VERSION,
        "fingerprint": request.model_fingerprint,
        "dtype": request.dtype,
        "cell": cell_dict(request),
        "runtime": runtime.model_dump(mode="json"),
        "settings": settings.model_dump(mode="json"),
        "device": device,
    }
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DueCell:
    """A cell to time: its requests (the prompts and seeds batches are drawn from)."""

    requests: tuple[GenerationRequest, ...]
    identity: str

    @property
    def cell(self) -> dict[str, Any]:
        return cell_dict(self.requests[0])


def cells(requests: Iterable[GenerationRequest]) -> dict[tuple[Any, ...], list[GenerationRequest]]:
    """Requests by cell, in first-seen order."""
    out: dict[tuple[Any, ...], list[GenerationRequest]] = {}
    for r in requests:
        out.setdefault(r.cell, []).append(r)
    return out


def due_cells(
    spec: SweepSpec,
    requests: Sequence[GenerationRequest],
    stored: Mapping[tuple[Any, ...], str],
    *,
    force: bool = False,
) -> list[DueCell]:
    """Cells whose stored record (cell -> identity) is missing or stale; none with
    `timing: false`. Reads no model and imports no torch."""
    if spec.timing is None:
        return []
    due = []
    for cell, members in cells(requests).items():
        identity = timing_identity(members[0], spec.runtime, spec.timing, spec.runtime.device)
        if force or stored.get(cell) != identity:
            due.append(DueCell(tuple(members), identity))
    return due


@dataclass(frozen=True)
class CellTiming:
    """One cell's timing pass."""

    cell: dict[str, Any]
    identity: str
    fingerprint: str
    dtype: str
    seconds: tuple[float, ...]  # seconds per image of each timed batch
    batch_size: int
    warmup: int
    device: str
    torch_threads: int
    load_avg: tuple[float, float, float]  # os.getloadavg() before the timed batches
    peak_mem_mb: float | None
    png_bytes: float  # mean PNG size of the images made (before any signing)
    executor: str = "local"  # where the pass ran: this process, or a Ray worker

    @property
    def median(self) -> float:
        return float(statistics.median(self.seconds))

    def record(self) -> dict[str, Any]:
        """The JSON the ledger stores: the raw batch times and the figures read from them."""
        return {
            "timing_version": TIMING_VERSION,
            "cell": self.cell,
            "fingerprint": self.fingerprint,
            "dtype": self.dtype,
            "seconds": list(self.seconds),
            **spread(self.seconds),
            "repeats": len(self.seconds),
            "batch_size": self.batch_size,
            "warmup": self.warmup,
            "device": self.device,
            "torch_threads": self.torch_threads,
            "load_avg": list(self.load_avg),
            "peak_mem_mb": self.peak_mem_mb,
            "png_bytes": self.png_bytes,
            "executor": self.executor,
        }


def spread(seconds: Sequence[float]) -> dict[str, float]:
    """Median, min, max, quartiles and the relative spread (max - min) / median."""
    values = sorted(float(s) for s in seconds)
    median = float(statistics.median(values))
    if len(values) > 1:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {
        "median": median,
        "min": values[0],
        "max": values[-1],
        "q1": float(q1),
        "q3": float(q3),
        "relative_spread": (values[-1] - values[0]) / median if median > 0 else 0.0,
    }


def _batch(requests: Sequence[GenerationRequest], index: int, size: int) -> list[GenerationRequest]:
    """The index-th batch of `size`, drawn from the cell's requests in turn (wrapping round
    when the cell has fewer images than the batches need)."""
    n = len(requests)
    return [requests[(index * size + j) % n] for j in range(size)]


def time_cell(
    generator: DiffusersGenerator, due: DueCell, settings: TimingSpec, executor: str = "local"
) -> CellTiming:
    """Warm up, then time `settings.repeats` batches of one cell; nothing is saved."""
    import torch

    reqs = due.requests
    for i in range(settings.warmup):
        generator.generate(_batch(reqs, i, settings.batch_size))
    load = os.getloadavg()
    seconds: list[float] = []
    sizes: list[int] = []
    peak: float | None = None
    for i in range(settings.repeats):
        out = generator.generate(_batch(reqs, settings.warmup + i, settings.batch_size))
        seconds.append(out[0].seconds)  # the batch's pipeline time per image
        peak = max(peak or 0.0, out[0].peak_mem_mb)
        sizes.extend(len(o.png) for o in out)
    first = reqs[0]
    return CellTiming(
        cell=due.cell,
        identity=due.identity,
        fingerprint=first.model_fingerprint,
        dtype=first.dtype,
        seconds=tuple(seconds),
        batch_size=settings.batch_size,
        warmup=settings.warmup,
        device=generator.device,
        torch_threads=torch.get_num_threads(),
        load_avg=(float(load[0]), float(load[1]), float(load[2])),
        peak_mem_mb=peak,
        png_bytes=sum(sizes) / len(sizes),
        executor=executor,
    )


def run_timing(
    spec: SweepSpec,
    base_dir: Path,
    due: Sequence[DueCell],
    device: str,
    on_timing: Callable[[CellTiming], None],
    settings: TimingSpec | None = None,
) -> None:
    """Time each due cell in this process, one model loaded at a time."""
    from audit.generate.diffusers_backend import DiffusersGenerator

    chosen = settings or spec.timing
    if chosen is None or not due:
        return
    models = {m.id: m for m in spec.models}
    for model_id, group in by_model(due):
        generator = DiffusersGenerator(models[model_id], spec.runtime, base_dir, device)
        for cell in group:
            on_timing(time_cell(generator, cell, chosen))
        del generator  # free the pipeline before the next model loads


def by_model(due: Sequence[DueCell]) -> list[tuple[str, list[DueCell]]]:
    """Due cells grouped by model (each model is loaded once), models in name order."""
    ordered = sorted(due, key=lambda d: d.requests[0].model_id)
    return [(m, list(g)) for m, g in groupby(ordered, key=lambda d: d.requests[0].model_id)]
