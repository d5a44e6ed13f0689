"""The report as JSON: the same content as the HTML, numbers as numbers, NaN as null."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from audit.report.data import ReportData

SCHEMA = "t2i-audit-report/1"


def render_json(data: ReportData) -> str:
    doc = {
        "schema": SCHEMA,
        "title": data.title,
        "generated": data.generated,
        "environment": data.environment,
        "primary_metric": data.primary,
        "primary_direction": data.primary_direction,
        "leaderboard": records(data.leaderboard),
        "leaderboard_metrics": data.leaderboard_metrics,
        "best_per_model": records(data.best),
        "pareto": records(data.pareto),
        "speed": records(data.speed),  # the timing pass: median, min, max, spread per cell
        "by_category": records(data.by_category),
        "safety": records(data.safety),
        "worst_prompts": {m: records(t) for m, t in data.worst.items()},
        "set_labels": records(data.set_labels),
        "stats": records(data.summary.stats),
        "efficiency": records(data.summary.efficiency),  # counts; batch-share times, not speed
        "metrics": {
            name: {"kind": info.kind, "direction": info.direction}
            for name, info in data.summary.metrics.items()
        },
    }
    return json.dumps(doc, indent=1, default=_plain, allow_nan=False) + "\n"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def clean(value: Any) -> Any:
    """JSON-safe scalar: numpy types to Python, NaN and infinities to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _plain(value: Any) -> Any:
    cleaned = clean(value)
    if cleaned is not value:
        return cleaned
    return str(value)
