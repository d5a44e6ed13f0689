"""One decision of what each metric is for, read by the report and the dashboard alike."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd

from audit.dashboard import tables
from audit.stats.aggregate import ALL
from audit.stats.roles import default_primary, is_quality, quality_metrics

DIRS = {
    "c2pa_trusted": "higher",  # a provenance rate: the dashboard once took it for quality
    "xmp_ai_disclosed": "higher",
    "wmc_detected_jpeg_50": "higher",  # a robustness-curve point
    "seconds_per_image": "lower",
    "images_per_second": "higher",
    "brisque": "lower",
    "ocr_ned": "lower",
    "ocr_text": "none",
}


def test_safety_cost_and_curve_metrics_are_never_quality() -> None:
    names = list(DIRS)
    assert quality_metrics(names, DIRS) == ["brisque", "ocr_ned"]
    assert default_primary(names, DIRS) == "brisque"
    assert default_primary([*names, "ocr_exact"], DIRS) == "ocr_exact"  # preferred wins
    assert default_primary(["c2pa_trusted", "wmc_detected_jpeg_50"], DIRS) is None
    assert not is_quality("ocr_text", "none") and is_quality("anything_new", "higher")


def _summary(metrics: list[str]) -> Any:
    stats = pd.DataFrame({"category": [ALL] * len(metrics), "metric": metrics})
    return SimpleNamespace(stats=stats)


def test_the_dashboard_picks_as_the_report_and_hides_curve_points_by_default(
    monkeypatch: Any,
) -> None:
    summary = _summary(list(DIRS))
    monkeypatch.setattr(tables, "directions", lambda _: DIRS)
    assert tables.primary_metric(summary) == default_primary(list(DIRS), DIRS) == "brisque"
    shown = tables.leaderboard_default(summary)
    assert "wmc_detected_jpeg_50" not in shown and "c2pa_trusted" in shown
    # Safety rates alone: nothing is a quality axis, and the dashboard still has a sort key.
    assert tables.primary_metric(_summary(["c2pa_trusted", "nsfw_flag"])) == "c2pa_trusted"
