"""Speed and memory per cell, from the cell's timing pass (`audit.generate.timing`).

The figures are measured, not shared out from the sweep's batches: the median seconds per
image of the timed batches, their spread, and how they were taken (batches, batch size,
load average). A cell without a timing pass (`timing: false`, ingested images) gets no
speed at all: only `timing_repeats` = 0 and a label that says so. No image is opened.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from audit.scorers.base import Metric, ScoreItem, ScorerOptions, SetScorer, Value
from audit.vocab import Direction

METRICS: tuple[tuple[str, Direction, str], ...] = (
    ("seconds_per_image", "lower", "median seconds per image of the timing pass's batches"),
    ("images_per_second", "higher", "1 / seconds_per_image"),
    ("seconds_per_image_min", "none", "fastest timed batch, seconds per image"),
    ("seconds_per_image_max", "none", "slowest timed batch, seconds per image"),
    ("timing_spread", "none", "(slowest - fastest) / median of the timed batches"),
    ("timing_repeats", "none", "timed batches (0: no timing pass)"),
    ("timing_batch_size", "none", "images per timed batch"),
    ("timing_load_avg", "none", "1-minute load average when the cell was timed"),
    ("peak_mem_mb", "lower", "peak memory during the timed batches"),
)
NO_TIMING = "no timing pass: speed not measured (spec `timing: false`, or ingested images)"


class EfficiencyScorer(SetScorer[ScorerOptions]):
    """One row per cell (the default grouping); it takes no options."""

    name = "efficiency"
    version = "2"  # 1 averaged the sweep's batch shares; 2 reads the timing pass

    def __init__(self, options: ScorerOptions | None = None) -> None:
        super().__init__(options)
        self.reset()

    def metrics(self) -> list[Metric]:
        return [Metric(name, direction, description=text) for name, direction, text in METRICS]

    def reads_pixels(self) -> bool:
        return False  # timing records only

    def reset(self) -> None:
        self._record: dict[str, Any] | None = None

    def update(self, items: Sequence[ScoreItem]) -> None:
        for it in items:
            raw = it.request.get("timing")
            if raw and self._record is None:  # one record per cell: every item carries it
                self._record = json.loads(raw) if isinstance(raw, str) else dict(raw)

    def compute(self) -> dict[str, Value]:
        rec = self._record
        if rec is None:
            return {"timing_repeats": 0.0}
        median = float(rec["median"])
        load = rec.get("load_avg") or [None]
        return {
            "seconds_per_image": median,
            "images_per_second": 1.0 / median if median > 0 else None,
            "seconds_per_image_min": float(rec["min"]),
            "seconds_per_image_max": float(rec["max"]),
            "timing_spread": float(rec["relative_spread"]),
            "timing_repeats": float(rec["repeats"]),
            "timing_batch_size": float(rec["batch_size"]),
            "timing_load_avg": load[0],
            "peak_mem_mb": rec.get("peak_mem_mb") or None,
        }

    def label(self) -> str:
        rec = self._record
        if rec is None:
            return NO_TIMING
        return (
            f"timing pass: median of {rec['repeats']} batches of {rec['batch_size']} after "
            f"{rec['warmup']} warm-up, {rec['device']}, {rec['torch_threads']} torch threads"
        )
