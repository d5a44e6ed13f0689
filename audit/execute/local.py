"""Run requests in this process: one model loaded at a time, batches within one cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from pathlib import Path

from audit.config import SweepSpec
from audit.generate.diffusers_backend import DiffusersGenerator, GeneratedImage
from audit.generate.request import GenerationRequest


def batches(
    requests: Sequence[GenerationRequest], batch_size: int
) -> Iterator[list[GenerationRequest]]:
    """Split requests (ordered by model and cell) into batches that never span two cells."""
    for _, group in groupby(requests, key=lambda r: r.cell):
        cell = list(group)
        for i in range(0, len(cell), batch_size):
            yield cell[i : i + batch_size]


def order_for_execution(requests: Sequence[GenerationRequest]) -> list[GenerationRequest]:
    """Group by model, then cell, so models load once and schedulers change rarely."""
    return sorted(requests, key=lambda r: (r.model_id, r.cell, r.suite, r.prompt_id, r.seed))


class LocalExecutor:
    name = "local"

    def __init__(self, device: str = "auto") -> None:
        self.device = device

    def run(
        self,
        spec: SweepSpec,
        base_dir: Path,
        requests: Sequence[GenerationRequest],
        on_result: Callable[[GeneratedImage], None],
    ) -> None:
        models = {m.id: m for m in spec.models}
        ordered = order_for_execution(requests)
        for model_id, group in groupby(ordered, key=lambda r: r.model_id):
            generator = DiffusersGenerator(models[model_id], spec.runtime, base_dir, self.device)
            for batch in batches(list(group), spec.batch_size):
                for result in generator.generate(batch):
                    on_result(result)
            del generator  # free the pipeline before the next model loads
