"""What each metric of a summary is for: a quality axis, a safety or provenance rate, a cost,
or a point of a robustness curve. The report and the dashboard both decide by these, so the
two never pick different leaderboards or a different quality axis for one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from audit.stats.safety import curve_column

PREFERRED_PRIMARY = ("clip_score", "toy_count_correct", "count_correct", "ocr_f1_run", "ocr_exact")
"""The quality axis of the leaderboard and the Pareto front, first one present wins."""

SAFETY_RATES = ("nsfw_flag", "safety_flag", "pipeline_safety_flag", "nan_or_black")
PROVENANCE_RATES = (
    "wm_detected",
    "c2pa_present",
    "c2pa_trusted",
    "c2pa_ai_declared",
    "xmp_ai_disclosed",
    "ai_disclosed",
)
SAFETY_METRICS = SAFETY_RATES + PROVENANCE_RATES
"""Rates shown in the safety and provenance section rather than the leaderboard."""

COST_METRICS = frozenset(
    {
        "seconds_per_image",
        "seconds_per_image_min",
        "seconds_per_image_max",
        "images_per_second",
        "timing_spread",
        "timing_repeats",
        "timing_batch_size",
        "timing_load_avg",
        "peak_mem_mb",
    }
)
"""The efficiency scorer's figures: speed and memory, never a quality axis."""


def is_quality(name: str, direction: str | None) -> bool:
    """A metric with a direction that is neither a safety rate, a cost nor a curve point:
    what the leaderboard ranks."""
    return (
        direction in ("higher", "lower")
        and name not in SAFETY_METRICS
        and name not in COST_METRICS
        and curve_column(name) is None  # robustness curves have their own chart
    )


def quality_metrics(names: Iterable[str], directions: Mapping[str, str]) -> list[str]:
    """`names` (in order, once each) that are quality metrics."""
    return [n for n in dict.fromkeys(names) if is_quality(n, directions.get(n))]


def default_primary(names: Iterable[str], directions: Mapping[str, str]) -> str | None:
    """The quality axis when none is asked for: the first preferred metric present, else
    the first quality metric, else None."""
    present = list(dict.fromkeys(names))
    for name in PREFERRED_PRIMARY:
        if name in present:
            return name
    quality = quality_metrics(present, directions)
    return quality[0] if quality else None
