"""Speed and memory per cell, from the generation records (no image is opened)."""

from __future__ import annotations

from collections.abc import Sequence

from audit.scorers.base import Metric, ScoreItem, ScorerOptions, SetScorer, Value


class EfficiencyScorer(SetScorer[ScorerOptions]):
    """One row per cell (the default grouping); it takes no options."""

    name = "efficiency"
    version = "1"

    def __init__(self, options: ScorerOptions | None = None) -> None:
        super().__init__(options)
        self.reset()

    def metrics(self) -> list[Metric]:
        return [
            Metric("seconds_per_image", "lower", description="mean generation seconds per image"),
            Metric("images_per_second", "higher", description="1 / seconds_per_image"),
            Metric("peak_mem_mb", "lower", description="largest peak memory seen in the cell"),
        ]

    def reads_pixels(self) -> bool:
        return False  # generation records only

    def reset(self) -> None:
        self._seconds: list[float] = []
        self._peak = 0.0

    def update(self, items: Sequence[ScoreItem]) -> None:
        for it in items:
            seconds = it.request.get("gen_seconds")
            if seconds is not None:
                self._seconds.append(float(seconds))
            self._peak = max(self._peak, float(it.request.get("peak_mem_mb") or 0.0))

    def compute(self) -> dict[str, Value]:
        if not self._seconds:  # ingested images carry no timings
            return {}
        mean = sum(self._seconds) / len(self._seconds)
        return {
            "seconds_per_image": mean,
            "images_per_second": 1.0 / mean if mean > 0 else None,
            "peak_mem_mb": self._peak or None,
        }

    def label(self) -> str:
        return "generation records"
